"""Speed and fidelity of the `warp` renderer.

Speed: frames per second at 512x512 on ONE core over a 60-frame clip (rig speech shapes, head turn, blink),
as a ratio to real time at 30 fps and to scikit-image's PiecewiseAffineTransform warp of the same
frames, timed in the same run. Fidelity (--fidelity): the face landmarker is run on frames rendered from
expression-rig targets and its landmarks compared with the targets (mean px at 512, all 468 / the 40 lip points).
Background (--background): on every portrait of ../shared/media (portraits/ and stylized/), a lively head pose
(nod 4, turn 6, tilt 3 degrees, 3 mm across) is rendered with and without the still background; printed: the
mean change (sum over RGB, 0-765) from the photo of the background further than SILHOUETTE_FALLOFF + 0.1 face
radii from the person's silhouette (the segmentation's own judgement of where the background is), and of the
person itself between the two renders.

Eyes (--eyes): the eyeballs of every portrait painted green, the share of green left with the face's own blink shut.

    .venv/bin/python bench/bench_warp.py [--fidelity] [--background] [--eyes] [--portraits a.png,b.jpg] [--frames 60]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.face.landmarker import FaceLandmarkerSession  # noqa: E402
from engine.face.reference import analyze_portrait  # noqa: E402
from tests import warp_targets as wt  # noqa: E402
from engine.render.pose_image import LIP_INDICES  # noqa: E402
from engine.render.warp import WarpRenderer  # noqa: E402

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media" / "portraits"
DEFAULT_PORTRAITS = ("AniPortrait__Aragaki.png", "hallo__6.jpg", "LivePortrait__s12.jpg", "Moore-AnimateAnyone__3.png",
                     "JoyVASA__joyvasa_005.png", "AniPortrait__lyl.png")
SKIMAGE_FRAMES = 3


def skimage_warp(image: np.ndarray, src_px: np.ndarray, dst_px: np.ndarray) -> np.ndarray:
    """The baseline: a piecewise-affine warp (landmarks + image corners) with scikit-image."""
    from skimage.transform import PiecewiseAffineTransform, warp

    h, w = image.shape[:2]
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], dtype=np.float64)
    tform = PiecewiseAffineTransform.from_estimate(np.vstack([dst_px, corners]), np.vstack([src_px[:468], corners]))
    return (warp(image, tform, output_shape=(h, w)) * 255).astype(np.uint8)


def bench_speed(reference, frames: int) -> dict[str, float]:
    targets = wt.demo_sequence(reference, frames)
    renderer = WarpRenderer(reference)
    renderer.render(targets[0])  # warm caches
    t0 = time.perf_counter()
    for tgt in targets:
        renderer.render(tgt)
    warp_fps = frames / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for tgt in targets[:SKIMAGE_FRAMES]:
        skimage_warp(reference.image, reference.landmarks_px, tgt)
    sk_fps = SKIMAGE_FRAMES / (time.perf_counter() - t0)
    return {"warp_fps": warp_fps, "skimage_fps": sk_fps}


def landmark_error(session: FaceLandmarkerSession, frame: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(mean px over all 468, mean px over the lip points); NaN when no face is found."""
    faces = session.detect(frame)
    if not faces:
        return float("nan"), float("nan")
    found = faces[0].pixels(frame.shape[1], frame.shape[0])[:468]
    dist = np.linalg.norm(found - target[:468], axis=1)
    return float(dist.mean()), float(dist[list(LIP_INDICES)].mean())


def background_change() -> None:
    from engine.render.person_mask import person_mask
    from engine.render.warp_field import SILHOUETTE_FALLOFF

    print(f"\nbackground change under a head turn, mean |frame - photo| (RGB sum) beyond the silhouette + "
          f"{SILHOUETTE_FALLOFF + 0.1:.1f} face radii")
    print(f"{'portrait':<32}{'share':>7}{'still':>8}{'before':>8}{'person still vs before':>24}")
    still_all, bent_all = [], []
    for path in sorted(MEDIA.glob("*")) + sorted((MEDIA.parent / "stylized").glob("*")):
        ref = analyze_portrait(path)
        target = wt.target_px(ref, {"jawOpen": 0.3}, [4.0, 6.0, 3.0, 0.3, 0.2, 0.0])
        still, bent = (WarpRenderer(ref, still_background=on).render(target).astype(int) for on in (True, False))
        person = person_mask(ref.image, ref.landmarks_px)
        hull = cv2.convexHull(ref.landmarks_px[:468].astype(np.float32)).reshape(-1, 2)
        radius = float(np.linalg.norm(hull - hull.mean(axis=0), axis=1).mean())
        far = cv2.distanceTransform((~person).astype(np.uint8), cv2.DIST_L2, 5) > (SILHOUETTE_FALLOFF + 0.1) * radius
        photo = ref.image.astype(int)
        change = [float(np.abs(img - photo).sum(axis=2)[far].mean()) if far.any() else 0.0 for img in (still, bent)]
        still_all.append(change[0])
        bent_all.append(change[1])
        print(f"{path.name[:31]:<32}{far.mean():7.2f}{change[0]:8.2f}{change[1]:8.2f}"
              f"{np.abs(still - bent).sum(axis=2)[person].mean():24.2f}")
    print(f"{'mean':<32}{'':7}{np.mean(still_all):8.2f}{np.mean(bent_all):8.2f}")


def shut_eyes() -> None:
    """Eyeballs painted pure green on every portrait, the face's own eyeBlink = 1 (its lids meet): the share of the
    open eyes' green pixels left (a band along the lash line before the lids were redrawn: 30-45 %)."""
    import dataclasses

    from engine.face.contours import EYES, eye_polygon
    from engine.geometry import project
    from engine.rig import fit_to_face

    print("\nshut eyes: green eyeball pixels left at eyeBlink 1 / 0.5, as a share of the open eyes'")
    shares = []
    for path in sorted(MEDIA.glob("*")) + sorted((MEDIA.parent / "stylized").glob("*")):
        ref = analyze_portrait(path)
        image = ref.image.copy()
        for eye in EYES:
            cv2.fillPoly(image, [np.round(ref.landmarks_px[list(eye_polygon(eye))]).astype(np.int32)], (0, 255, 0))
        ref = dataclasses.replace(ref, image=image)
        renderer, rig = WarpRenderer(ref), fit_to_face(ref.mesh)

        def green(blink: float) -> int:
            mesh = ref.mesh + rig.offsets_frame({"eyeBlinkLeft": blink, "eyeBlinkRight": blink}).astype(np.float64)
            out = renderer.render(project(mesh, ref.transform, None, ref.width, ref.height)).astype(int)
            return int((out[..., 1] - np.maximum(out[..., 0], out[..., 2]) > 60).sum())

        open_eyes = max(green(0.0), 1)
        shares.append((green(1.0) / open_eyes, green(0.5) / open_eyes))
        print(f"{path.name[:31]:<32}{shares[-1][0]:7.3f}{shares[-1][1]:7.3f}")
    print(f"{'mean':<32}{np.mean([a for a, _ in shares]):7.3f}{np.mean([b for _, b in shares]):7.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fidelity", action="store_true", help="also measure landmark fidelity")
    parser.add_argument("--background", action="store_true", help="also measure how still the background stays")
    parser.add_argument("--eyes", action="store_true", help="also measure what eyeball a shut eye still shows")
    parser.add_argument("--portraits", default=",".join(DEFAULT_PORTRAITS))
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    names = [n for n in args.portraits.split(",") if n]
    refs = {n: analyze_portrait(MEDIA / n) for n in names}

    first = refs[names[0]]
    speed = bench_speed(first, args.frames)
    print(f"speed on {names[0]} at {first.width}x{first.height}, one core, {args.frames} frames")
    print(f"{'renderer':<28}{'fps':>10}{'x real time (30 fps)':>24}{'x skimage':>12}")
    for label, fps in (("warp (WarpRenderer)", speed["warp_fps"]), ("skimage PiecewiseAffine", speed["skimage_fps"])):
        print(f"{label:<28}{fps:>10.1f}{fps / 30.0:>24.2f}{fps / speed['skimage_fps']:>12.1f}")

    if args.fidelity:
        print("\nfidelity: mean |detected - target| px at 512, all 468 / lips 40 (rows: rig targets)")
        short = [n.split("__")[-1].rsplit(".", 1)[0][:12] for n in names]
        print(f"{'target':<12}" + "".join(f"{s:>15}" for s in short) + f"{'mean':>15}")
        rows: dict[str, list[tuple[float, float]]] = {}
        with FaceLandmarkerSession() as session:
            for ref in refs.values():
                renderer = WarpRenderer(ref)
                for kind, tgt in wt.fidelity_targets(ref).items():
                    rows.setdefault(kind, []).append(landmark_error(session, renderer.render(tgt), tgt))
        for kind, cells in rows.items():
            arr = np.array(cells)
            print(f"{kind:<12}" + "".join(f"{a:6.2f} /{l:6.2f}" for a, l in arr).replace("/", " /")
                  + f"{np.nanmean(arr[:, 0]):7.2f} /{np.nanmean(arr[:, 1]):6.2f}")
        arr = np.array([c for cells in rows.values() for c in cells])
        speech = np.array([c for k in wt.SPEECH_EXPRESSIONS for c in rows[k]])
        print(f"speech shapes mean {np.nanmean(speech[:, 0]):.2f} / {np.nanmean(speech[:, 1]):.2f}; "
              f"all targets mean {np.nanmean(arr[:, 0]):.2f} / {np.nanmean(arr[:, 1]):.2f} "
              f"(worst {np.nanmax(arr[:, 0]):.2f} / {np.nanmax(arr[:, 1]):.2f}; no face found: {int(np.isnan(arr[:, 0]).sum())})")
    if args.background:
        background_change()
    if args.eyes:
        shut_eyes()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
