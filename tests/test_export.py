import math
import os
from fractions import Fraction

import av
import cv2
import numpy as np
import pytest
import soundfile as sf

from engine.audio.decode import AudioClip, load_audio
from engine.errors import ExportError
from engine.export import (LandmarkFileError, PngSequenceWriter, VideoWriter, fps_fraction, load_landmarks_npz,
                           load_pose_template, save_landmarks_npz, save_pose_template, side_by_side, write_png)
from engine.export.audio_span import output_audio_samples
from engine.export.frames import frame_name
from tests.media import media


@pytest.fixture(scope="module")
def lyl():
    return load_audio(media("speech/AniPortrait__lyl.wav"))  # 44.1 kHz stereo, 7.744 s


def excerpt(clip: AudioClip, start: float, seconds: float) -> AudioClip:
    a = round(start * clip.rate)
    return AudioClip(clip.samples[a:a + round(seconds * clip.rate)], clip.rate)


def pattern(i: int, w: int, h: int) -> np.ndarray:
    """Smooth colour gradients that move with the frame index (compress well, easy to compare)."""
    y, x = np.mgrid[:h, :w].astype(np.float32)
    r = 128 + 100 * np.sin((x + 3 * i) / 23.0)
    g = 128 + 100 * np.cos((y - 2 * i) / 31.0)
    b = 128 + 60 * np.sin((x + y) / 47.0)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def write_video(path, n, w=64, h=64, fps=30, audio=None, offset=0.0):
    with VideoWriter(path, w, h, fps, audio=audio, audio_offset=offset) as out:
        for i in range(n):
            out.write(pattern(i, w, h))
    return path


def decode(path):
    """(video stream facts, frames (pts seconds, rgb), audio (C, N) float, audio rate)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {"codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt,
                "size": (v.codec_context.width, v.codec_context.height),
                "duration": float(v.duration * v.time_base), "rate": v.guessed_rate,
                "audio_codec": c.streams.audio[0].codec_context.name if c.streams.audio else None,
                "audio_duration": (float(c.streams.audio[0].duration * c.streams.audio[0].time_base)
                                   if c.streams.audio else None),
                "container_duration": c.duration / 1e6}
        frames = [(float(f.pts * v.time_base), f.to_ndarray(format="rgb24")) for f in c.decode(v)]
    audio, rate = None, None
    with av.open(str(path)) as c:
        if c.streams.audio:
            chunks = [f.to_ndarray() for f in c.decode(c.streams.audio[0])]
            audio, rate = np.concatenate(chunks, axis=1), c.streams.audio[0].rate
    return info, frames, audio, rate


def test_fps_fraction_is_exact_for_ntsc_rates():
    assert fps_fraction(29.97) == Fraction(30000, 1001)
    assert fps_fraction(23.976) == Fraction(24000, 1001)
    assert fps_fraction(59.94) == Fraction(60000, 1001)
    assert fps_fraction(25) == 25 and fps_fraction(30.0) == 30 and fps_fraction(12.5) == Fraction(25, 2)
    with pytest.raises(ExportError):
        fps_fraction(0)


def test_mp4_with_audio_decodes_back(tmp_path, lyl):
    clip = excerpt(lyl, 1.0, 1.5)
    n = clip.frame_count(30)
    assert n == 45
    path = write_video(tmp_path / "out.mp4", n, w=128, h=96, audio=clip)
    info, frames, audio, rate = decode(path)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["size"] == (128, 96)
    assert info["audio_codec"] == "aac" and rate == 44100 and audio.shape[0] == 2
    assert len(frames) == n
    assert info["duration"] == pytest.approx(1.5, abs=1e-4)
    assert info["audio_duration"] == pytest.approx(1.5, abs=1e-4)
    assert info["container_duration"] == pytest.approx(1.5, abs=1e-3)
    # Pixels: smooth content survives crf 18 (the decoder honours the BT.709 tags we write).
    errors = [np.abs(rgb.astype(int) - pattern(i, 128, 96)).mean() for i, (_, rgb) in enumerate(frames)]
    assert max(errors) < 2.5
    # Audio: the original samples, aligned (AAC priming removed by the edit list), not silence.
    ref = clip.samples.T
    m = min(ref.shape[1], audio.shape[1])
    assert abs(audio.shape[1] - ref.shape[1]) < 1024  # at most one AAC frame of end padding is decoded
    for ch in range(2):
        corr = np.corrcoef(audio[ch, :m], ref[ch, :m])[0, 1]
        assert corr > 0.98
    assert np.sqrt(np.mean(audio ** 2)) > 0.01


@pytest.mark.parametrize("fps", [24, 25, 30, 29.97, 23.976])
def test_frame_count_and_durations_at_common_rates(tmp_path, lyl, fps):
    clip = excerpt(lyl, 0.0, 1.23)
    n = clip.frame_count(fps)
    assert n == math.ceil(1.23 * fps)
    info, frames, _, _ = decode(write_video(tmp_path / "out.mp4", n, fps=fps, audio=clip))
    exact = fps_fraction(fps)
    assert len(frames) == n
    assert info["rate"] == exact
    # Frame i is shown at i/fps; the last frame is shortened so that video and audio both end at 1.23 s.
    assert [t for t, _ in frames] == pytest.approx([float(i / exact) for i in range(n)], abs=1e-4)
    assert info["duration"] == pytest.approx(1.23, abs=1e-4)
    assert info["audio_duration"] == pytest.approx(1.23, abs=1e-4)
    assert frames[-1][0] < info["duration"] < frames[-1][0] + float(1 / exact)


def test_full_length_reference_clip_has_233_frames(tmp_path, lyl):
    n = lyl.frame_count(30)
    assert n == 233
    info, frames, audio, _ = decode(write_video(tmp_path / "full.mp4", n, w=32, h=32, audio=lyl))
    assert len(frames) == 233
    assert info["duration"] == pytest.approx(lyl.duration, abs=1e-4)
    assert info["audio_duration"] == pytest.approx(lyl.duration, abs=1e-4)
    assert abs(audio.shape[1] - lyl.samples.shape[0]) < 1024


def test_range_render_takes_the_audio_from_its_offset(tmp_path, lyl):
    # Frames 60..89 of a 30 fps render: the audio is lyl[2.0 s, 3.0 s], cut at the end of the last frame.
    info, frames, audio, _ = decode(write_video(tmp_path / "range.mp4", 30, audio=lyl, offset=2.0))
    assert len(frames) == 30
    assert info["duration"] == pytest.approx(1.0, abs=1e-4)
    assert info["audio_duration"] == pytest.approx(1.0, abs=1e-4)
    ref = lyl.samples[88200:132300, 0]
    assert np.corrcoef(audio[0, :ref.shape[0]], ref)[0, 1] > 0.98


def test_audio_shorter_than_video_is_padded_with_silence(tmp_path, lyl):
    clip = excerpt(lyl, 2.0, 0.5)
    info, frames, audio, rate = decode(write_video(tmp_path / "pad.mp4", 30, audio=clip))
    assert len(frames) == 30
    assert info["duration"] == pytest.approx(1.0, abs=1e-4)
    assert info["audio_duration"] == pytest.approx(1.0, abs=1e-4)
    assert np.abs(audio[:, int(0.55 * rate):]).max() < 1e-3  # the padding is silent
    assert np.abs(audio[:, :int(0.45 * rate)]).max() > 0.05


def test_mono_and_unusual_rate_audio(tmp_path, lyl):
    # 37 kHz is not an AAC rate: the writer resamples to 48 kHz; mono stays mono.
    mono = AudioClip(lyl.samples[:37_000, :1].copy(), 37_000)
    info, frames, audio, rate = decode(write_video(tmp_path / "mono.mp4", 30, audio=mono))
    assert rate == 48_000 and audio.shape[0] == 1
    assert info["audio_duration"] == pytest.approx(1.0, abs=1e-4) and len(frames) == 30


def test_surround_audio_is_mixed_down_to_stereo_by_its_layout(tmp_path, lyl):
    """A 5.1 WAV with the speech in its centre channel (as film dialogue is): decoded to stereo with the centre at
    -3 dB in both sides, and muxed so. Before, the six channels were averaged to mono: the voice 15.6 dB down."""
    import av

    from engine.audio.decode import load_audio

    rate, voice = 48_000, lyl.samples[:44_100, 0]
    six = np.zeros((6, voice.shape[0]), np.float32)
    six[2] = voice  # FL FR FC LFE BL BR: the centre
    six[3] = 0.3 * np.sin(2 * np.pi * 40 * np.arange(voice.shape[0]) / rate)  # a rumble on the LFE: left out
    path = tmp_path / "surround.wav"
    with av.open(str(path), "w") as c:
        stream = c.add_stream("pcm_s16le", rate=rate, layout="5.1")
        frame = av.AudioFrame.from_ndarray((six.T * 32767).astype(np.int16).reshape(1, -1), format="s16",
                                           layout="5.1")
        frame.sample_rate = rate
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            c.mux(packet)
    clip = load_audio(path)
    assert clip.channels == 2 and clip.samples.shape[0] == voice.shape[0]
    for side in clip.samples.T:
        assert np.sqrt(np.mean(side ** 2)) == pytest.approx(np.sqrt(np.mean(voice ** 2)) / np.sqrt(2), rel=0.02)
        assert np.corrcoef(side, voice)[0, 1] > 0.999  # the rumble is not in it
    _, _, audio, _ = decode(write_video(tmp_path / "surround.mp4", 27, audio=clip))
    assert audio.shape[0] == 2
    assert np.sqrt(np.mean(audio ** 2)) == pytest.approx(np.sqrt(np.mean(clip.samples ** 2)), rel=0.05)


def test_video_without_audio(tmp_path):
    info, frames, audio, _ = decode(write_video(tmp_path / "silent.mp4", 10, fps=25))
    assert info["audio_codec"] is None and audio is None
    assert len(frames) == 10 and info["duration"] == pytest.approx(0.4, abs=1e-4)


@pytest.mark.parametrize("size", [(0, 64), (1, 64)])
def test_empty_size_is_refused(tmp_path, size):
    with pytest.raises(ExportError, match="positive|at least 2x2"):
        VideoWriter(tmp_path / "odd.mp4", *size, 30)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("size", [(513, 512), (512, 511), (721, 481)])
def test_odd_sized_frames_are_written_without_their_last_column_or_row(tmp_path, size):
    """A dub of a 721x481 video failed after tracking it ("H.264 needs an even width and height")."""
    w, h = size
    y, x = np.mgrid[:h, :w]
    frames = [np.stack([x * 255 // w, y * 255 // h, (x + y + 40 * i) * 127 // (w + h)], -1).astype(np.uint8)
              for i in range(3)]
    with pytest.warns(UserWarning, match=f"{w}x{h} frames are written as {w - w % 2}x{h - h % 2}"):
        with VideoWriter(tmp_path / "odd.mp4", w, h, 30, crf=0) as out:
            for f in frames:
                out.write(f)
    info, decoded, _, _ = decode(tmp_path / "odd.mp4")
    assert info["size"] == (w - w % 2, h - h % 2) and len(decoded) == 3
    # the kept pixels stay in place: the frame's own, up to the 4:2:0 round trip
    assert np.abs(decoded[1][1].astype(int) - frames[1][:h - h % 2, :w - w % 2]).mean() < 1.5


def test_bad_frame_and_no_frames_are_export_errors(tmp_path):
    out = VideoWriter(tmp_path / "a.mp4", 64, 64, 30)
    with pytest.raises(ExportError, match="uint8 RGB"):
        out.write(np.zeros((64, 64, 3), np.float32))
    out.write(pattern(0, 64, 64))  # a refused frame leaves the writer usable
    out.abort()
    assert os.listdir(tmp_path) == []
    with pytest.raises(ExportError, match="no frames"):
        VideoWriter(tmp_path / "b.mp4", 64, 64, 30).close()
    assert os.listdir(tmp_path) == []


def test_missing_folders_are_created_and_a_folder_target_is_refused(tmp_path):
    assert len(decode(write_video(tmp_path / "a" / "b" / "out.mp4", 2))[1]) == 2
    with pytest.raises(ExportError, match="is a folder"):
        VideoWriter(tmp_path / "a", 64, 64, 30)


def test_a_full_disk_mid_render_is_one_line_and_keeps_the_existing_file(tmp_path, monkeypatch):
    """The muxer's "No space left on device" (an av.error.OSError) escaped write() as a traceback."""
    import errno

    import av

    target = tmp_path / "video.mp4"
    target.write_bytes(b"previous render")
    out = VideoWriter(target, 64, 64, 30)

    def full(*_args):
        raise av.error.OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(out, "_mux", full)
    with pytest.raises(ExportError, match=r"cannot write .*video.mp4: No space left on device"):
        for i in range(40):  # the encoder holds the first frames back: the muxer sees them a little later
            out.write(pattern(i, 64, 64))
    assert target.read_bytes() == b"previous render" and os.listdir(tmp_path) == ["video.mp4"]


def test_abort_leaves_no_file_and_keeps_an_existing_target(tmp_path, lyl):
    target = tmp_path / "video.mp4"
    out = VideoWriter(target, 64, 64, 30, audio=lyl)
    for i in range(5):
        out.write(pattern(i, 64, 64))
    assert len(os.listdir(tmp_path)) == 1 and not target.exists()  # only the hidden temp file
    out.abort()
    assert os.listdir(tmp_path) == []

    target.write_bytes(b"previous render")
    with pytest.raises(RuntimeError):
        with VideoWriter(target, 64, 64, 30, audio=lyl) as out:
            out.write(pattern(0, 64, 64))
            raise RuntimeError("cancelled")
    assert target.read_bytes() == b"previous render" and os.listdir(tmp_path) == ["video.mp4"]

    write_video(target, 3)  # a finished render replaces it
    assert os.listdir(tmp_path) == ["video.mp4"] and len(decode(target)[1]) == 3


def test_output_audio_length_rule():
    fps = Fraction(30)
    assert output_audio_samples(30, fps, 48000, 100_000) == 48000  # longer audio: cut at the last frame's end
    assert output_audio_samples(30, fps, 48000, 47_000) == 47_000  # ends inside the last frame: kept as is
    assert output_audio_samples(30, fps, 48000, 40_000) == 48000  # ends earlier: padded


def test_side_by_side_matches_make_grid_layout():
    ref, pose, frame = (np.full((512, 512, 3), v, np.uint8) for v in (50, 120, 200))
    grid = side_by_side(ref, pose, frame)
    assert grid.shape == (516, 1544, 3) and grid.dtype == np.uint8
    for x0, v in ((2, 50), (516, 120), (1030, 200)):
        assert (grid[2:514, x0:x0 + 512] == v).all()
    for x in (0, 1, 514, 515, 1028, 1029, 1542, 1543):
        assert (grid[:, x] == 0).all()
    for y in (0, 1, 514, 515):
        assert (grid[y] == 0).all()


def test_side_by_side_resizes_panels_to_the_frame_height():
    ref = np.full((256, 200, 3), 90, np.uint8)  # -> 512 x 400
    grid = side_by_side(ref, np.zeros((512, 512, 3), np.uint8), np.full((512, 512, 3), 7, np.uint8))
    assert grid.shape == (516, 2 + 402 + 514 + 514, 3)
    assert (grid[2:514, 2:402] == 90).all() and (grid[2:514, 402:404] == 0).all()
    assert (grid[2:514, 918:1430] == 7).all()
    with pytest.raises(ExportError, match="pose image"):
        side_by_side(ref, np.zeros((512, 512), np.uint8), ref)


def test_side_by_side_pose_panel_lines_up_with_a_non_square_frame():
    """A pose image is a square canvas of the frame's normalised coordinates: beside a 512x384 full-frame render it
    was a square panel, squashed against the frame; it is stretched back to the frame's shape."""
    frame = np.full((384, 512, 3), 7, np.uint8)
    pose = np.zeros((512, 512, 3), np.uint8)
    pose[120:136, 248:264] = 255  # at (0.5, 0.25) of the frame
    grid = side_by_side(frame, pose, frame)
    assert grid.shape == (388, 2 + 3 * 514, 3)
    ys, xs = np.nonzero(grid[2:386, 516:1028, 0] == 255)
    assert abs(xs.mean() - 256) < 2 and abs(ys.mean() - 96) < 2


def test_landmark_npz_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    lm, mesh, pose = rng.random((7, 478, 2)) * 512, rng.normal(size=(7, 468, 3)), rng.normal(size=(7, 6))
    path = save_landmarks_npz(tmp_path / "lm.npz", lm, mesh, pose, 29.97, (512, 384))
    seq = load_landmarks_npz(path)
    assert seq.frame_count == 7 and seq.fps == 29.97 and seq.image_size == (512, 384)
    np.testing.assert_allclose(seq.landmarks_2d, lm, atol=1e-4)
    np.testing.assert_allclose(seq.mesh, mesh, atol=1e-6)
    np.testing.assert_allclose(seq.pose, pose, atol=1e-6)
    assert os.listdir(tmp_path) == ["lm.npz"]
    save_landmarks_npz(tmp_path / "lm468.npz", lm[:, :468], mesh, pose, 30, (512, 512))
    assert load_landmarks_npz(tmp_path / "lm468.npz").landmarks_2d.shape == (7, 468, 2)


def test_landmark_npz_validation(tmp_path):
    mesh, pose = np.zeros((3, 468, 3)), np.zeros((3, 6))
    with pytest.raises(ExportError, match="landmarks_2d"):
        save_landmarks_npz(tmp_path / "x.npz", np.zeros((3, 470, 2)), mesh, pose, 30, (512, 512))
    with pytest.raises(ExportError, match=r"pose must be \(3, 6\)"):
        save_landmarks_npz(tmp_path / "x.npz", np.zeros((3, 478, 2)), mesh, pose[:2], 30, (512, 512))
    with pytest.raises(ExportError, match="finite"):
        save_landmarks_npz(tmp_path / "x.npz", np.full((3, 478, 2), np.nan), mesh, pose, 30, (512, 512))
    assert os.listdir(tmp_path) == []
    np.savez(tmp_path / "partial.npz", mesh=mesh, pose=pose)
    with pytest.raises(LandmarkFileError, match="missing landmarks_2d"):
        load_landmarks_npz(tmp_path / "partial.npz")
    np.savez(tmp_path / "objects.npz", landmarks_2d=np.array([{"a": 1}], dtype=object), mesh=mesh, pose=pose,
             fps=30.0, image_size=np.array([512, 512]))
    with pytest.raises(LandmarkFileError, match="cannot read"):  # would need unpickling: refused
        load_landmarks_npz(tmp_path / "objects.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(LandmarkFileError):
        load_landmarks_npz(tmp_path / "junk.npz")
    with pytest.raises(LandmarkFileError, match="not found"):
        load_landmarks_npz(tmp_path / "none.npz")


def test_pose_template_ping_pong_matches_the_reference():
    path = media("pose_templates/AniPortrait__pose_temp.npy")
    seq = np.load(path, allow_pickle=False)
    assert seq.shape == (165, 6)
    out = load_pose_template(path, 500, 30)
    assert out.shape == (500, 6) and out.dtype == np.float64
    # Period 2 * 165 - 2 = 328: seq[0..164], then seq[163..1], then seq[0] again.
    np.testing.assert_array_equal(out[:165], seq)
    np.testing.assert_array_equal(out[165:328], seq[163:0:-1])
    np.testing.assert_array_equal(out[328:493], seq)
    assert load_pose_template(path, 10, 30).shape == (10, 6)


def test_pose_template_resampling_and_round_trip(tmp_path):
    seq = np.load(media("pose_templates/AniPortrait__pose_temp.npy"), allow_pickle=False)
    # At 25 fps a template of 165 samples (5.5 s) becomes int(165 * 25 / 30) = 137 samples over the same span.
    at25 = load_pose_template(media("pose_templates/AniPortrait__pose_temp.npy"), 137, 25)
    np.testing.assert_allclose(at25[0], seq[0])
    np.testing.assert_allclose(at25[-1], seq[-1])
    np.testing.assert_allclose(at25[68], np.array([np.interp(68 * 164 / 136, np.arange(165), seq[:, c])
                                                   for c in range(6)]), atol=1e-12)
    # Saving at 30 fps is lossless; saving at 25 fps resamples to 30 fps and back within a small error.
    path = save_pose_template(tmp_path / "same.npy", seq, 30)
    saved = np.load(path, allow_pickle=False)
    assert saved.dtype == np.float64 and saved.shape == (165, 6)
    np.testing.assert_array_equal(load_pose_template(path, 165, 30), seq)
    save_pose_template(tmp_path / "from25.npy", at25, 25)
    saved = np.load(tmp_path / "from25.npy", allow_pickle=False)
    assert saved.shape == (164, 6)  # int(137 * 30 / 25)
    # Same span: saved sample k lies at original index k * 164 / 163; only the double interpolation differs.
    expected = np.stack([np.interp(np.arange(164) * 164 / 163, np.arange(165), seq[:, c]) for c in range(6)], 1)
    assert np.abs(saved - expected).max() < 0.3  # degrees; the template moves up to 0.84 per sample
    np.testing.assert_allclose(saved[[0, -1]], seq[[0, -1]])
    with pytest.raises(ExportError):
        save_pose_template(tmp_path / "bad.npy", np.zeros((4, 5)), 30)
    np.save(tmp_path / "wrong.npy", np.zeros((10, 3)))
    with pytest.raises(LandmarkFileError, match=r"\(N, 6\)"):
        load_pose_template(tmp_path / "wrong.npy", 10, 30)
    (tmp_path / "notes.txt").write_text("yaw pitch roll\n")  # said "pickled data ... allow_pickle=False"
    with pytest.raises(LandmarkFileError, match="not a NumPy .npy array file"):
        load_pose_template(tmp_path / "notes.txt", 10, 30)


def test_a_pose_template_is_checked_before_it_is_read(tmp_path):
    """A bare .npy header declaring 2^40 rows made numpy allocate 48 TiB (a traceback); complex numbers and 1e300
    rendered with overflow warnings. Each is now one error naming the file's fault."""
    giga = tmp_path / "giga.npy"
    with open(giga, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (2**40, 6)})
    with pytest.raises(LandmarkFileError, match="not a valid .npy array"):
        load_pose_template(giga, 10, 30)
    long = tmp_path / "long.npy"
    np.save(long, np.zeros((10**6, 6), np.float32))
    with pytest.raises(LandmarkFileError, match="1000000 rows is longer than"):
        load_pose_template(long, 10, 30)
    for name, values, message in (("complex", np.ones((5, 6), complex), "real numbers, got complex128"),
                                  ("huge", np.full((5, 6), 1e300), "finite numbers within")):
        np.save(tmp_path / f"{name}.npy", values)
        with pytest.raises(LandmarkFileError, match=message):
            load_pose_template(tmp_path / f"{name}.npy", 10, 30)


def test_png_sequence_with_audio(tmp_path, lyl):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame_000009.png").write_bytes(b"stale frame of a longer earlier render")
    (folder / "notes.txt").write_text("keep me")
    frames = [pattern(i, 48, 32) for i in range(5)]
    with PngSequenceWriter(folder, 25, audio=lyl) as seq:
        for f in frames:
            seq.write(f)
    names = sorted(os.listdir(folder))
    assert names == ["audio.wav"] + [f"frame_00000{i}.png" for i in range(1, 6)] + ["notes.txt"]
    for i, f in enumerate(frames):
        back = cv2.imread(str(folder / frame_name(i)), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(back[..., ::-1], f)  # lossless, RGB order kept
    wav, rate = sf.read(folder / "audio.wav", dtype="float32")
    assert rate == 44100 and wav.shape == (8820, 2)  # 5 frames at 25 fps = 0.2 s
    np.testing.assert_allclose(wav, lyl.samples[:8820], atol=1 / 32768 + 1e-6)

    # A range from 1.0 s (frame 25) into the same folder: its frames take the whole clip's names (they were
    # numbered from 1 again, over the first render's), its audio a name of its own, and nothing else goes.
    with PngSequenceWriter(folder, 25, audio=lyl, audio_offset=1.0, whole=False) as seq:
        for f in frames[::-1]:
            seq.write(f)
    names = sorted(os.listdir(folder))
    assert names == (["audio.wav", "audio_from_frame_000026.wav"] + [f"frame_00000{i}.png" for i in range(1, 6)]
                     + [f"frame_0000{i}.png" for i in range(26, 31)] + ["notes.txt"])
    np.testing.assert_array_equal(cv2.imread(str(folder / "frame_000026.png"))[..., ::-1], frames[4])
    np.testing.assert_array_equal(cv2.imread(str(folder / "frame_000001.png"))[..., ::-1], frames[0])
    wav, _ = sf.read(folder / "audio_from_frame_000026.wav", dtype="float32")
    np.testing.assert_allclose(wav, lyl.samples[44100:52920], atol=1 / 32768 + 1e-6)  # 0.2 s from 1.0 s
    # a range from the first frame is a range too: the other range's frames and the whole render's audio stay
    with PngSequenceWriter(folder, 25, audio=lyl, whole=False) as seq:
        seq.write(frames[1])
    assert {"frame_000026.png", "frame_000005.png", "audio.wav", "audio_from_frame_000001.wav"} <= set(os.listdir(folder))


def test_png_sequence_abort_keeps_the_folder_as_it_was(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame_000001.png").write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        with PngSequenceWriter(folder, 30) as seq:
            seq.write(pattern(0, 16, 16))
            seq.write(pattern(1, 16, 16))
            raise RuntimeError("cancelled")
    assert os.listdir(folder) == ["frame_000001.png"]
    assert (folder / "frame_000001.png").read_bytes() == b"previous"
    # a folder the render made is gone again (a cancelled editor render left an empty take_frames/)
    new = tmp_path / "nested" / "take_frames"
    with pytest.raises(RuntimeError):
        with PngSequenceWriter(new, 30) as seq:
            seq.write(pattern(0, 16, 16))
            raise RuntimeError("cancelled")
    assert not new.exists()


def test_write_png_is_atomic_and_named_from_one(tmp_path):
    path = write_png(tmp_path, 41, pattern(0, 10, 8))
    assert os.path.basename(path) == "frame_000042.png" and os.listdir(tmp_path) == ["frame_000042.png"]
    with pytest.raises(ExportError):
        write_png(tmp_path, 0, np.zeros((8, 10), np.uint8))
    assert os.listdir(tmp_path) == ["frame_000042.png"]


def _smooth_picture(h: int = 240, w: int = 320) -> np.ndarray:
    """Natural-looking colours: blurred random colour fields (within the gamut of limited-range video)."""
    rng = np.random.default_rng(7)
    field = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 12)
    field = (field - field.min()) / (field.max() - field.min())
    return (20 + 215 * field).astype(np.uint8)


def test_decoding_our_video_keeps_the_picture_level_generation_after_generation(tmp_path):
    from engine.media.video_read import iter_video_frames

    original = _smooth_picture()
    picture = original
    for generation in range(3):  # a dub of a dub: decode, re-encode
        path = tmp_path / f"g{generation}.mp4"
        with VideoWriter(path, 320, 240, 25) as out:
            for _ in range(3):
                out.write(picture)
        picture = next(iter_video_frames(path))[1]
    drift = (picture.astype(np.float64) - original).mean(axis=(0, 1))
    # FFmpeg's own conversion to RGB truncates: about -1 level per generation (-3.2 after three)
    assert np.all(np.abs(drift) < 0.5), f"mean level drift per channel after 3 generations: {drift}"


@pytest.mark.parametrize("colorspace, color_range", [("ITU709", "MPEG"), ("ITU601", "MPEG"), ("ITU601", "JPEG")])
def test_frames_convert_to_rgb_with_their_own_colour_standard(colorspace, color_range):
    from engine.media.video_read import rgb_of

    picture = _smooth_picture()
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(
        format="yuv420p", dst_colorspace=colorspace, dst_color_range=color_range)
    frame.colorspace = 1 if colorspace == "ITU709" else 6  # what a decoder reads from the stream
    frame.color_range = 2 if color_range == "JPEG" else 1
    ours = rgb_of(frame).astype(np.float64)
    ffmpeg = frame.to_ndarray(format="rgb24").astype(np.float64)
    assert np.abs(ours - picture).mean() < 1.0 and abs(ours.mean() - picture.mean()) < 0.5
    assert abs(ffmpeg.mean() - picture.mean()) > 1.0  # FFmpeg's truncation, which rgb_of avoids
    # the same colour standard and range as FFmpeg's (a wrong one: 99th percentile 11-20 levels off); the rest
    # is rounding and bilinear chroma instead of repeated chroma samples
    assert np.percentile(np.abs(ours - ffmpeg), 99) <= 6


def test_frames_of_other_colour_standards_keep_ffmpegs_conversion():
    from engine.media.video_read import rgb_of

    frame = av.VideoFrame.from_ndarray(_smooth_picture(), format="rgb24").reformat(format="yuv420p")
    frame.colorspace = 9  # BT.2020 (non-constant luminance): not converted here
    assert np.array_equal(rgb_of(frame), frame.to_ndarray(format="rgb24"))
