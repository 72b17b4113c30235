"""Contact sheets of the expression rig on a real portrait: every control at 0 and at its maximum.

    .venv/bin/python scripts/rig_sheet.py [portrait] [--out /tmp/rig_sheet] [--weight 1.0]

Writes <out>_mesh.png (the projected mesh over the photo: neutral in grey/red, control in green/yellow),
<out>_pose.png (AniPortrait pose images, neutral in grey beneath) and <out>_warp.png (the portrait warped
to each control).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.rig import load_rig  # noqa: E402
from engine.face.contours import (  # noqa: E402
    BROW_LEFT_UPPER,
    BROW_RIGHT_UPPER,
    EYE_LEFT_LOWER,
    EYE_LEFT_UPPER,
    EYE_RIGHT_LOWER,
    EYE_RIGHT_UPPER,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
)
from engine.face.canonical import load_canonical_model  # noqa: E402
from engine.face.reference import analyze_portrait  # noqa: E402
from engine.geometry import project  # noqa: E402
from engine.render.pose_image import draw_pose_image  # noqa: E402
from engine.render.warp import WarpRenderer  # noqa: E402

TILE = 300
CONTOURS = (LIPS_OUTER_UPPER, LIPS_OUTER_LOWER, LIPS_INNER_UPPER, LIPS_INNER_LOWER, EYE_LEFT_UPPER,
            EYE_LEFT_LOWER, EYE_RIGHT_UPPER, EYE_RIGHT_LOWER, BROW_LEFT_UPPER, BROW_RIGHT_UPPER)


ZOOMS = {"face": (None, 0.62), "mouth": ((0, 13, 14, 17, 61, 291, 152), 0.75), "eyes": ((33, 263, 70, 300, 1), 0.6)}


def _crop_box(px: np.ndarray, width: int, height: int, zoom: str = "face") -> tuple[int, int, int]:
    idx, margin = ZOOMS[zoom]
    sel = px if idx is None else px[list(idx)]
    lo, hi = sel.min(axis=0), sel.max(axis=0)
    centre, half = (lo + hi) / 2, margin * float(max(hi - lo))
    x0 = int(np.clip(centre[0] - half, 0, max(0, width - 2 * half)))
    y0 = int(np.clip(centre[1] - half, 0, max(0, height - 2 * half)))
    return x0, y0, int(2 * half)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    cv2.rectangle(tile, (0, 0), (TILE, 20), (0, 0, 0), -1)
    cv2.putText(tile, text, (4, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def _mesh_tile(image, neutral_px, px, edges, box, name) -> np.ndarray:
    x0, y0, size = box
    scale = TILE / size
    canvas = cv2.resize(image[y0 : y0 + size, x0 : x0 + size], (TILE, TILE), interpolation=cv2.INTER_AREA)
    canvas = (canvas * 0.55).astype(np.uint8)

    def to_tile(p):
        return np.round((p - [x0, y0]) * scale * 4).astype(np.int32)  # 2 bits of sub-pixel precision

    n, d = to_tile(neutral_px), to_tile(px)
    # Only the part of the wireframe that moves (more than 0.2 px), so the contours stay readable.
    moved = np.linalg.norm(px - neutral_px, axis=1) > 0.2
    for a, b in edges[moved[edges[:, 0]] | moved[edges[:, 1]]]:
        cv2.line(canvas, tuple(d[a]), tuple(d[b]), (0, 170, 0), 1, cv2.LINE_AA, shift=2)
    for loop in CONTOURS:
        cv2.polylines(canvas, [n[list(loop)]], False, (255, 60, 60), 1, cv2.LINE_AA, shift=2)
        cv2.polylines(canvas, [d[list(loop)]], False, (255, 255, 0), 1, cv2.LINE_AA, shift=2)
    return _label(canvas, name)


def _pose_tile(neutral_px, px, width, height, name) -> np.ndarray:
    base = draw_pose_image(neutral_px, width, height)
    img = draw_pose_image(px, width, height)
    shown = np.where(img.any(axis=2, keepdims=True), img, (base * 0.35).astype(np.uint8))
    ys, xs = np.nonzero(base.any(axis=2))
    c, half = np.array([xs.mean(), ys.mean()]), 0.62 * max(np.ptp(xs), np.ptp(ys))
    x0, y0 = (np.clip(c - half, 0, 512 - 2 * half)).astype(int)
    crop = shown[y0 : y0 + int(2 * half), x0 : x0 + int(2 * half)]
    return _label(cv2.resize(crop, (TILE, TILE), interpolation=cv2.INTER_AREA), name)


def _warp_tiles(reference, meshes, names, zoom: str) -> list[np.ndarray]:
    """Warp frames via the warp renderer."""
    renderer = WarpRenderer(reference)
    tiles = []
    px0 = project(reference.mesh, reference.transform, None, reference.width, reference.height)
    box = _crop_box(px0, reference.width, reference.height, zoom)
    for mesh, name in zip(meshes, names):
        px = project(mesh, reference.transform, None, reference.width, reference.height)
        frame = renderer.render(px)
        x0, y0, size = box
        crop = frame[y0 : y0 + size, x0 : x0 + size]
        tiles.append(_label(cv2.resize(crop, (TILE, TILE), interpolation=cv2.INTER_AREA), name))
    return tiles


def _grid(tiles: list[np.ndarray], columns: int = 6) -> np.ndarray:
    rows = -(-len(tiles) // columns)
    sheet = np.zeros((rows * TILE, columns * TILE, 3), np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        sheet[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE] = tile
    return sheet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("portrait", nargs="?", default="../shared/media/portraits/AniPortrait__Aragaki.png")
    ap.add_argument("--out", default="/tmp/rig_sheet")
    ap.add_argument("--weight", type=float, default=1.0, help="control value shown (default: 1.0)")
    ap.add_argument("--zoom", choices=sorted(ZOOMS), default="face", help="crop of the mesh sheet")
    ap.add_argument("--combo", action="append", default=[],
                    help="extra tile: comma-separated name=value pairs, e.g. jawOpen=1,mouthClose=1")
    args = ap.parse_args(argv)

    rig = load_rig()
    ref = analyze_portrait(args.portrait)
    w, h = ref.width, ref.height
    edges = load_canonical_model().triangles[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2)
    neutral_px = project(ref.mesh, ref.transform, None, w, h)
    box = _crop_box(neutral_px, w, h, args.zoom)

    poses: list[tuple[str, dict[str, float]]] = [("neutral", {})]
    for name in rig.controls:
        if name == "mouthClose":  # ARKit semantics: it closes the lips against an open jaw
            poses.append((f"{name}+jawOpen {args.weight:g}", {name: args.weight, "jawOpen": args.weight}))
        else:
            poses.append((f"{name} {args.weight:g}", {name: args.weight}))
    for combo in args.combo:
        poses.append((combo, {k: float(v) for k, v in (p.split("=") for p in combo.split(","))}))

    mesh_tiles, pose_tiles, meshes = [], [], []
    for label, values in poses:
        mesh = ref.mesh + rig.offsets_frame(values)
        meshes.append(mesh)
        px = project(mesh, ref.transform, None, w, h)
        mesh_tiles.append(_mesh_tile(ref.image, neutral_px, px, edges, box, label))
        pose_tiles.append(_pose_tile(neutral_px, px, w, h, label))

    written = []
    for suffix, tiles in (("mesh", mesh_tiles), ("pose", pose_tiles),
                          ("warp", _warp_tiles(ref, meshes, [p[0] for p in poses], args.zoom))):
        if tiles:
            path = f"{args.out}_{suffix}.png"
            cv2.imwrite(path, cv2.cvtColor(_grid(tiles), cv2.COLOR_RGB2BGR))
            written.append(path)
    print("\n".join(written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
