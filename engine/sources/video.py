"""A video as the face source (dubbing): its frames, its tracked face, and the mapping from output frames to
source frames when the new audio is longer or shorter than the video.

The reference is the video's most neutral tracked frame (its mesh is the identity the rig is fitted to). Per
output frame the source gives the frame to render over and the face geometry to animate from: the tracked mesh
with its lower face brought to rest (the new speech replaces it) and the head pose relative to the reference.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from engine.errors import VideoReadError
from engine.face.reference import ReferenceFace
from engine.face.track import FaceTrack
from engine.sources.base import FittedFace

# Decoded frames kept for random access (scrubbing, a ping-pong loop playing backwards): bounded in bytes.
FRAME_CACHE_BYTES = 256 * 2**20
# A backwards jump decodes this many frames before the one asked for in one go (and caches them), so a
# ping-pong loop's backward pass costs one seek per chunk instead of one per frame.
BACKWARD_CHUNK = 24
# The lower face the new speech replaces: vertices a mouth or jaw control moves by at least LOWER_FACE_FULL of
# its largest displacement count fully; the weight falls off linearly to 0 at LOWER_FACE_MIN (a soft seam on
# the cheeks; every control moves the whole mesh a hair, which must not count: the eyes stay the source's).
LOWER_FACE_FULL = 0.25
LOWER_FACE_MIN = 0.12
LOWER_FACE_CONTROLS = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight",
                       "mouthFrownLeft", "mouthFrownRight", "mouthStretchLeft", "mouthStretchRight",
                       "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft", "mouthLowerDownRight",
                       "mouthPressLeft", "mouthPressRight", "mouthRollLower", "mouthRollUpper")


# What of the actor's own lower face a dub keeps: the smile. It is expression, not speech (the new audio
# brings its own articulation), and removing it with the rest took a smiling actor's smile away (the upper lip
# came down over teeth the actor shows: a flat mouth, the teeth gone).
KEPT_EXPRESSION = ("mouthSmileLeft", "mouthSmileRight")


def lower_face_weights(rig) -> np.ndarray:
    """(468,) in [0, 1]: how much of each vertex belongs to the regenerated lower face."""
    w = np.zeros(rig.basis.shape[1])
    for name in LOWER_FACE_CONTROLS:
        if name in rig.controls:
            moved = np.linalg.norm(rig.basis[rig.index(name)], axis=1)
            w = np.maximum(w, moved / max(moved.max(), 1e-9))
    return np.clip((w - LOWER_FACE_MIN) / (LOWER_FACE_FULL - LOWER_FACE_MIN), 0.0, 1.0)


# The renderer's window side is this many times the largest face-box side of the track: the jaw's reach at full
# opening plus the warp's margin of still points around the face (it rarely exceeds the face box by 40 %).
WINDOW_SCALE = 2.0


@dataclass(frozen=True)
class Window:
    x: int  # top-left corner in the frame (may be negative: the window can reach past the frame)
    y: int
    side: int

    def cut(self, frame: np.ndarray) -> np.ndarray:
        """The window's pixels; what lies past the frame is mirrored in (it is never blended back)."""
        import cv2

        h, w = frame.shape[:2]
        pad = [max(0, -self.y), max(0, self.y + self.side - h), max(0, -self.x), max(0, self.x + self.side - w)]
        y0, y1 = max(self.y, 0), min(self.y + self.side, h)
        x0, x1 = max(self.x, 0), min(self.x + self.side, w)
        inside = frame[y0:y1, x0:x1]
        if not any(pad):
            return np.ascontiguousarray(inside)
        if max(pad[:2]) < y1 - y0 and max(pad[2:]) < x1 - x0:
            # a pad only lies beyond a frame edge the crop shares, so mirroring the crop mirrors the frame
            return cv2.copyMakeBorder(inside, *pad, borderType=cv2.BORDER_REFLECT_101)
        frame = cv2.copyMakeBorder(frame, *pad, borderType=cv2.BORDER_REFLECT_101)
        y, x = self.y + pad[0], self.x + pad[2]
        return np.ascontiguousarray(frame[y:y + self.side, x:x + self.side])


def windows_for(centres: np.ndarray, face_side: float) -> list[Window]:
    """One window per frame centred on the face (the side fixed for the clip, even for video codecs)."""
    side = int(np.ceil(WINDOW_SCALE * face_side / 2.0)) * 2
    return [Window(int(round(cx - side / 2)), int(round(cy - side / 2)), side) for cx, cy in centres]


# A saved dub's video is the tracked one when its picture size and frame rate match and its tracked reference frame
# decodes to the project's copy of it within this mean difference (grey levels): the same file decodes
# identically, a re-encoded copy of it differs by 1-3; another take differs by far more wherever anyone moves.
SAME_FRAME_MAD = 6.0


# Letterbox / pillarbox bars: black decodes to 0-12 levels in 8-bit video (coding noise around studio black); a row
# or column that dark across its whole length in every sampled frame holds no face and no scene. Samples spread
# over the video so a dark opening shot is not taken for a bar.
BAR_LEVEL = 20
BAR_SAMPLES = 8
BAR_ASYMMETRY = 0.01  # share of the frame by which a pair of bars may differ (coding blurs each edge by a row)


class VideoFrames:
    """Random access to a video's displayed frames: sequential reads decode on, others seek to a keyframe."""

    def __init__(self, path: str, fps: float):
        self.path, self.fps = path, fps
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._container = self._stream = self._decoder = None
        self._next = 0
        self._seeked = False
        self._rotation = 0

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = self._decoder = None

    def _open(self, index: int) -> None:
        import av

        from engine.media.video_read import open_video, video_stream

        if index == 0:  # from the start: reopened, not sought (seeking a container without an index can overshoot)
            self.close()
        if self._container is None:
            self._container = open_video(self.path)
            self._stream = video_stream(self._container)
            self._stream.thread_type = "AUTO"
        if index > 0:
            pts = int(index / self.fps / self._stream.time_base) if self._stream.time_base else 0
            try:
                self._container.seek(pts + (self._stream.start_time or 0), stream=self._stream, backward=True)
            except av.error.FFmpegError:
                self._open(0)
                return
        self._decoder = self._container.decode(self._stream)
        self._next = None  # known after the first decoded frame
        self._seeked = index > 0  # the first frame decoded after a seek tells whether it landed past the target

    def _decode_next(self) -> tuple[int, np.ndarray] | None:
        from engine.media.video_read import rgb_of, upright

        frame = next(self._decoder, None)
        if frame is None:
            return None
        base = self._stream.start_time or 0
        t = float((frame.pts - base) * self._stream.time_base) if frame.pts is not None else 0.0
        index = int(round(t * self.fps))
        return index, upright(rgb_of(frame), getattr(frame, "rotation", 0) or 0)

    def _keep(self, index: int, rgb: np.ndarray) -> None:
        self._cache[index] = rgb
        self._cache.move_to_end(index)
        while len(self._cache) > max(2 * BACKWARD_CHUNK, FRAME_CACHE_BYTES // max(rgb.nbytes, 1)):
            self._cache.popitem(last=False)

    def __getitem__(self, index: int) -> np.ndarray:
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        if self._decoder is None or self._next is None or not self._next <= index <= self._next + BACKWARD_CHUNK:
            self._open(max(0, index - BACKWARD_CHUNK + 1))
        last = None
        while True:
            decoded = self._decode_next()
            if self._seeked and (decoded is None or decoded[0] > index):
                self._open(0)  # the seek landed past the frame: a container without an index (MPEG-TS) seeks by bytes
                continue
            self._seeked = False
            if decoded is None:  # past the end: the last frame there is
                if last is None:
                    raise IndexError(f"frame {index} is past the end of {self.path}")
                return last
            i, rgb = decoded
            self._next = i + 1
            if i >= index - BACKWARD_CHUNK:
                self._keep(i, rgb)
            last = rgb
            if i >= index:
                return rgb


class VideoSource:
    kind: ClassVar[str] = "video"

    def __init__(self, path: str, track: FaceTrack, frame_map: np.ndarray, *, fit: str = "pingpong",
                 face_index: int | None = None, reference: ReferenceFace | None = None):
        self.path = path
        self.track = track
        self.frame_map = np.asarray(frame_map, dtype=np.int64)  # output frame -> source frame
        self.fit, self.face_index = fit, face_index  # how it was made (kept in the project file)
        self._frames = VideoFrames(path, track.fps)
        self._neutral = k = track.neutral_index()
        self._unchecked = reference is not None  # a saved project's video: checked when first read
        if reference is None:  # a saved project brings its own (the video may have moved)
            reference = ReferenceFace(image=self._frames[k], landmarks=track.landmarks[k], mesh=track.meshes[k],
                                      transform=track.transforms[k],
                                      blendshapes=dict(zip(track.blendshape_names, track.blendshapes[k].tolist())))
        self.reference = reference
        self.fitted = FittedFace(reference.mesh)

    @property
    def frame_count(self) -> int:
        return int(len(self.frame_map))

    def _source_index(self, index: int) -> int:
        return int(self.frame_map[min(max(index, 0), self.frame_count - 1)])

    # --- what a renderer sees: a window that follows the face (engine.render.compose) -----------------
    @cached_property
    def _windows(self):
        px = self.track.landmarks_px()[:, :468]
        boxes = np.concatenate([px.min(axis=1), px.max(axis=1)], axis=1)  # (S, 4) x0 y0 x1 y1
        usable = self.track.usable
        face_side = float(np.max(np.maximum(boxes[usable, 2] - boxes[usable, 0], boxes[usable, 3] - boxes[usable, 1])))
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        return face_side, windows_for(centres, face_side)

    @cached_property
    def picture(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the picture inside the frame's black letterbox or pillarbox bars (the whole frame
        when it has none): rows and columns from the edges that are black in every one of BAR_SAMPLES frames
        spread over the video (keyframes: one decode each), in centred pairs. A dub leaves the bars as they are
        (a chin under the bottom bar was warped into it)."""
        from engine.media.video_read import frames_spread

        self._video()  # (a saved project's file checked first)
        samples = frames_spread(self.path, BAR_SAMPLES) or [self._video()[0]]
        brightest = np.max([f.max(axis=2) for f in samples], axis=0)  # (H, W) over the samples
        rows = np.flatnonzero(brightest.max(axis=1) > BAR_LEVEL)
        cols = np.flatnonzero(brightest.max(axis=0) > BAR_LEVEL)
        h, w = brightest.shape
        if not len(rows) or not len(cols):  # an all-black video: no picture to find bars around
            return 0, 0, w, h
        x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
        # bars come in centred pairs; a dark strip on one side only (a black suit, a dark floor) is picture
        if abs(y0 - (h - y1)) > max(2, BAR_ASYMMETRY * h):
            y0, y1 = 0, h
        if abs(x0 - (w - x1)) > max(2, BAR_ASYMMETRY * w):
            x0, x1 = 0, w
        return x0, y0, x1, y1

    @property
    def face_side(self) -> float:
        """The largest face-box side of the track, px."""
        return self._windows[0]

    @cached_property
    def lower_points(self) -> np.ndarray:
        """Mesh vertices of the regenerated lower face (the blend mask's outline)."""
        return np.nonzero(lower_face_weights(self.fitted.rig) > 0)[0]

    def window(self, index: int):
        return self._windows[1][self._source_index(index)]

    def to_window(self, index: int, px: np.ndarray) -> np.ndarray:
        w = self.window(index)
        return np.asarray(px, dtype=np.float64) - np.array([w.x, w.y])

    def frame(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The window of output frame `index` and the tracked landmarks in it."""
        return self.window(index).cut(self._video()[self._source_index(index)]), self.window_landmarks(index)

    def window_landmarks(self, index: int) -> np.ndarray:
        """The tracked landmarks of output frame `index` in its window's pixels (without cutting the window)."""
        return self.to_window(index, self.track.landmarks_px(self._source_index(index)))

    def full_frame(self, index: int) -> np.ndarray:
        return self._video()[self._source_index(index)]

    def usable(self, index: int) -> bool:
        """False inside a long gap without a face: renderers pass the source frame through."""
        return bool(self.track.usable[self._source_index(index)])

    @cached_property
    def _geometry(self) -> tuple[np.ndarray, np.ndarray]:
        from engine.geometry import relative_pose

        s = self.frame_map
        pose, scale = relative_pose(self.reference.transform, self.track.transforms[s])
        meshes = self.track.meshes[s]
        w = lower_face_weights(self.fitted.rig)
        # the source's own speech removed, its smile kept
        kept = self._kept_expression(meshes, w > 0)
        rest = meshes + w[None, :, None] * (self.fitted.rest_mesh[None] + kept - meshes)
        return rest * scale[:, None, None], pose

    def _kept_expression(self, meshes: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """(T, 468, 3) offsets of the actor's own KEPT_EXPRESSION in each frame: the lower-face controls fitted to
        the tracked mesh (least squares over the `lower` vertices, clipped to 0..1), the kept ones' share."""
        rig = self.fitted.rig
        names = [n for n in LOWER_FACE_CONTROLS if n in rig.controls]
        kept = [i for i, n in enumerate(names) if n in KEPT_EXPRESSION]
        if not kept:
            return np.zeros_like(meshes)
        basis = np.stack([rig.basis[rig.index(n)] for n in names]).astype(np.float64)  # (C, 468, 3)
        delta = (meshes - self.fitted.rest_mesh[None])[:, lower].reshape(len(meshes), -1)
        weights = np.clip(delta @ np.linalg.pinv(basis[:, lower].reshape(len(names), -1)), 0.0, 1.0)
        return np.tensordot(weights[:, kept], basis[kept], axes=1).astype(meshes.dtype)

    def geometry(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Per output frame: the rest meshes to add motion to and the head pose of the source frame."""
        rest, pose = self._geometry
        return rest[start:stop], pose[start:stop]

    @cached_property
    def sound(self) -> np.ndarray | None:
        """The video's own sound (16 kHz mono) laid under the output frames as the picture plays it, or None when
        the video has none: what the editor shows, muted, beside the new audio."""
        from engine.audio.decode import ANALYSIS_RATE

        clip = self._own_sound()
        return None if clip is None else self.sound_under_output(clip.mono16k, ANALYSIS_RATE)

    def kept_sound(self):
        """The video's own sound at its own rate and channels (an AudioClip), laid under the output frames as the
        picture plays them: the bed `dub --keep-source-audio` mixes under the new speech; None without one."""
        from engine.audio.decode import AudioClip

        clip = self._own_sound()
        if clip is None:
            return None
        return AudioClip(samples=self.sound_under_output(clip.samples, clip.rate), rate=clip.rate, source=clip.source)

    def _own_sound(self):
        from engine.audio.decode import load_audio
        from engine.errors import AudioReadError

        try:
            return load_audio(self.path, analysed=False)
        except AudioReadError:
            return None

    def sound_under_output(self, samples: np.ndarray, rate: float) -> np.ndarray:
        """(N,) or (N, C) samples of this video's own sound under the output frames as the picture plays them
        (engine.video.lengths.sound_under_frames: backwards in a ping-pong loop, silent on a held frame), from its
        first picture on."""
        from engine.media.video_read import sound_lead
        from engine.video.lengths import sound_under_frames

        return sound_under_frames(samples, rate, self.track.fps, self.frame_map, sound_lead(self.path))

    def relink(self, path: str, check: bool = True) -> None:
        """The same video found elsewhere: frames are read from there from now on (VideoReadError, and nothing
        changed, when the file is another video). `check=False` (undoing a relink to a file since gone): checked
        when first read, as a saved project's video is."""
        frames = VideoFrames(path, self.track.fps)
        if check:
            try:
                self._check(frames)
            except VideoReadError:
                frames.close()
                raise
        self._frames.close()
        self.path, self._frames, self._unchecked = path, frames, not check
        self.__dict__.pop("sound", None)  # read again from the new file when asked

    def _video(self) -> VideoFrames:
        if self._unchecked:
            self._check(self._frames)
            self._unchecked = False
        return self._frames

    def _check(self, frames: VideoFrames) -> None:
        """VideoReadError unless `frames` are of the tracked video (see SAME_FRAME_MAD): another file put at a
        project's path would get this track's faces."""
        from engine.media.video_read import probe_video

        info, track = probe_video(frames.path), self.track
        if (info.width, info.height) != (track.width, track.height) or abs(info.fps - track.fps) > 1e-3 * track.fps:
            other = f"this one is {info.width}x{info.height} at {info.fps:.4g} fps"
        else:
            frame = frames[self._neutral]
            if frame.shape == self.reference.image.shape and float(
                    np.abs(frame.astype(np.int16) - self.reference.image).mean()) <= SAME_FRAME_MAD:
                return
            other = "this one shows another picture"
        raise VideoReadError(f"{frames.path} is not the video this project tracked ({track.width}x{track.height} at "
                             f"{track.fps:.4g} fps; {other}): relink the same video")

    def animate(self, base):
        """What of a predicted base layer a dub uses: the lower face's motion only (the video keeps its own head
        motion, eyes and brows), so the lip gain scales the new speech alone."""
        import dataclasses

        w = lower_face_weights(self.fitted.rig)[None, :, None]
        keep = {n: t for n, t in base.weights.items() if n in LOWER_FACE_CONTROLS}
        return dataclasses.replace(base, offsets=(base.offsets * w).astype(np.float32), pose=np.zeros_like(base.pose),
                                   weights=keep, blinks=[])

    def from_frame(self, start: int) -> "VideoSource":
        """The same dub with output frame `start` as its frame 0, for a render (of a range of the project: the
        video frames under that range; the motion is evaluated against the whole source). It reads the video with
        a decoder of its own: a render thread sharing the editor preview's decoder crashed the process."""
        view = VideoSource(self.path, self.track, self.frame_map[max(start, 0):], fit=self.fit,
                           face_index=self.face_index, reference=self.reference)
        view._unchecked, view.fitted = self._unchecked, self.fitted
        for name in ("_windows", "picture", "lower_points"):  # measured by source frame: the same for the view
            if name in self.__dict__:
                view.__dict__[name] = self.__dict__[name]
        return view

    def resized(self, size: int) -> "VideoSource":
        if size == max(self.reference.width, self.reference.height):
            return self
        from engine.errors import UsageError

        raise UsageError(f"a dub renders at its video's own resolution ({self.reference.width}x{self.reference.height}): "
                         "the size setting does not apply to it")

    @classmethod
    def open(cls, path: str | os.PathLike, output_frames: int, fit: str, *, face_index: int | None = None,
             progress=None, cancel=None) -> "VideoSource":
        import warnings

        from engine.face.track import cached_track, warn_framing, warn_track_problems
        from engine.video.lengths import source_frames

        track = cached_track(path, face_index=face_index, progress=progress, cancel=cancel)
        warn_track_problems(track, path, "those frames are shown as they are, without the new mouth")
        warn_framing(track, path)
        # Audio that runs into one frame more than the video (an AAC encoder's padding: the video's own sound is
        # a few ms longer than its picture) holds the last frame there, without a word: it is no loop.
        overhang = output_frames - track.frame_count
        if overhang > 1 and fit != "trim":
            video_s, audio_s = _seconds(track.frame_count / track.fps), _seconds(output_frames / track.fps)
            how = (f"plays forwards and backwards {output_frames / track.frame_count:.1f} times over"
                   if fit == "pingpong" and track.frame_count > 1 else "holds its last frame for the rest of")
            warnings.warn(f"{os.fspath(path)}: the video is {video_s} and the audio {audio_s}: the video "
                          f"{how} the audio (--fit trim ends with the video)", stacklevel=2)
        frame_map = source_frames(track.frame_count, output_frames, "hold" if overhang == 1 and fit != "trim" else fit)
        return cls(os.fspath(path), track, frame_map, fit=fit, face_index=face_index)


def _seconds(t: float) -> str:
    """A length as people read it: 3.0 s, and 0.04 s for a single frame (not 0.0 s)."""
    return f"{t:.1f} s" if t >= 1.0 else f"{t:.2g} s"
