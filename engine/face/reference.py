"""The reference face of a portrait: the frame the animation is rendered in, its 478 landmarks,
its neutral canonical mesh (468 x 3, cm) and its facial transformation matrix (canonical -> camera)."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from engine.errors import FaceTooSmallError, MultipleFacesError, NoFaceError
from engine.face.canonical import load_canonical_model
from engine.face.contours import eye_line, tilt_deg
from engine.face.images import load_image
from engine.face.landmarker import FaceDetection, FaceLandmarkerSession
from engine.geometry import canonical_from_metric, screen_to_metric

MIN_FACE_BOX_PX = 100  # landmark box side below which the mesh is too coarse to animate
DEFAULT_CROP_EXPAND = 1.8  # face box -> square crop side (the reference app uses 1.5; more shows hair and shoulders)
# Where the image cannot hold that square, the crop shrinks down to the reference app's 1.5 (the face still has
# AniPortrait's framing) before anything is invented past the image's edge.
MIN_CROP_EXPAND = 1.5
# The crop slides towards the inside of the image by at most this share of its side: at 1.8 the face box
# spans 56 % of the side, so a 10 % shift still leaves >= 12 % of the frame between the face and the edge for
# head motion, and the face stays in the middle fifth of the frame where a user expects it.
MAX_CROP_SHIFT = 0.10
# Overshoots up to this share of the side are not shifted away but filled by the extension. 0: even a 3 %
# strip of mirrored, blurred hair above a head cut by the photo's top edge read as a dark smudge in every frame
# (new users saw it at once); a face a few % off the frame's centre is not seen at all. (At 0.04 the crop kept
# the face where the detector put it: a colour photo and its greyscale copy framed up to 7 px apart.)
FREE_EXTENSION = 0.0
# The extension past the image's edge (see extend_border; lengths are fractions of the crop side). Mirrored
# content is blurred with a sigma of EXTENSION_BLUR_PER_DISTANCE x its distance from the edge, approximated by
# blending the levels EXTENSION_BLUR_LEVELS: at 0.5 a mirrored eye (~6 % of the side) 10 % out is blurred by
# 5 %, i.e. gone, while the first few px keep the texture that hides the seam. It fades towards the mean colour
# of the edge strip (EXTENSION_EDGE_STRIP wide) up to EXTENSION_FADE_MAX at EXTENSION_FADE_AT, never fully (a
# flat band reads as a matte as much as streaks do), and grain of the image's own strength goes on top.
EXTENSION_BLUR_PER_DISTANCE = 1.0
EXTENSION_BLUR_LEVELS = (0.006, 0.02, 0.05, 0.1, 0.2)
EXTENSION_EDGE_STRIP = 0.03
EXTENSION_FADE_MAX = 0.6
EXTENSION_FADE_AT = 0.25
# A crop reaching this share of its side past the photo says so: a blurred band that wide is seen (5 %: 26 px of a
# 512 px frame; narrower strips read as soft shadow at the frame's edge).
EXTENSION_WARN = 0.05
EXTENSION_SEED = 7  # the grain is deterministic: the same portrait frames to the same image
# The face found again in the framed image lies within this (normalized) distance of where the crop put it;
# landmark means sit within ~0.05 of the face box centre, another face in the frame is much further away.
FRAMED_FACE_TOLERANCE = 0.15
EXTENSION_WORK_PX = 640  # the extension is computed with the crop at most this many px across (it is blurry)
MAX_FACES = 8
# A face whose landmark box lies more than this share outside the picture is said to be cut off (the landmarker
# places the hidden part; a chin cut by a pixel or two is not worth a word).
FACE_CUT_WARN = 0.03
# An output more than this many times the photo's own pixels across (its face crop, or the whole image) is said to
# be upscaled: past 2x the enlargement shows as softness, and the render costs the output's size.
MAX_UPSCALE = 2.0
# Face-detector score a portrait's face must reach. Real photos score >= 0.90 while animal faces (dog 0.81,
# monkey 0.72 on ../shared/media/not_a_person) slip through MediaPipe's default of 0.5 with a human mesh.
PORTRAIT_MIN_CONFIDENCE = 0.86
# MediaPipe's face detector (BlazeFace short range, 128 px input) misses faces under ~20 % of the frame. Where
# it finds none, overlapping square tiles of these shares of the image's shorter side are searched (stride half
# a tile): a face 10 % of the frame fills ~20 % of a half tile and ~33 % of a 0.3 tile; below ~5 % the face box
# is under MIN_FACE_BOX_PX on any photo the limits admit, so smaller tiles would find nothing usable.
SMALL_FACE_TILE_SHARES = (0.5, 0.3)
# A face within this share of the tile side from a tile's edge may be cut there; it is taken from another tile.
TILE_EDGE_MARGIN = 0.04


@dataclass
class ReferenceFace:
    image: np.ndarray  # (H, W, 3) uint8 RGB: the frame the animation is rendered in
    landmarks: np.ndarray  # (478, 3) normalized landmarks of `image`
    mesh: np.ndarray  # (468, 3) neutral canonical mesh, cm
    transform: np.ndarray  # (4, 4) canonical -> camera
    blendshapes: dict[str, float] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    def resized(self, size: int) -> "ReferenceFace":
        """The same face framed at another size (longer side = size, even sides). Normalized landmarks, the
        canonical mesh and the transform do not depend on the frame size, so only the image is resampled."""
        if size == max(self.width, self.height):
            return self
        return ReferenceFace(fit_even(self.image, size), self.landmarks, self.mesh, self.transform, self.blendshapes)

    @property
    def landmarks_px(self) -> np.ndarray:
        """(478, 2) pixel coordinates in `image`."""
        return self.landmarks[:, :2] * np.array([self.width, self.height])


def canonical_mesh_of(detection: FaceDetection, width: int, height: int) -> np.ndarray:
    """The face's own canonical mesh: metric landmarks mapped back through the inverse transform."""
    model = load_canonical_model()
    metric, _ = screen_to_metric(detection.landmarks[:468], width, height, model.vertices, model.procrustes_weights)
    return canonical_from_metric(metric, detection.transform)


# np.rot90's k (quarter turns counter-clockwise) -> how the user turns the picture upright
TURNS = {1: "90 degrees counter-clockwise", 3: "90 degrees clockwise", 2: "upside down (180 degrees)"}


# MediaPipe's face detector is trained on upright faces: a head tilted 15-20 degrees in a photo (a selfie) scores
# 0.5-0.7, under PORTRAIT_MIN_CONFIDENCE. Where no upright face is found, the picture is looked at turned back by
# these angles (degrees counter-clockwise), 15 and 30 both ways: each covers about +-10 degrees around it.
TILTS = (15.0, -15.0, 30.0, -30.0)
# A face whose eye line lies steeper than this in the picture is a picture lying on its side (the detector finds
# faces 60 degrees from upright), not a tilted head: a neck tilts a head ~40 degrees at most.
MAX_TILT_DEG = 45.0


def _tilted_faces(session: FaceLandmarkerSession, image: np.ndarray) -> list[FaceDetection]:
    """The faces of a picture whose heads are tilted, found in it turned (on a canvas that holds all of it) and
    mapped back into it, left to right; their transforms are the turned picture's, only good for locating."""
    import cv2

    h, w = image.shape[:2]
    for angle in TILTS:
        turn = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
        cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
        tw, th = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
        turn[:, 2] += ((tw - w) / 2.0, (th - h) / 2.0)
        turned = cv2.warpAffine(image, turn, (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        faces = session.detect(turned)
        if not faces:
            continue
        back = cv2.invertAffineTransform(turn)
        out = []
        for face in faces:
            px = face.landmarks[:, :2] * (tw, th) @ back[:, :2].T + back[:, 2]
            if abs(tilt_deg(eye_line(px))) <= MAX_TILT_DEG:
                out.append(FaceDetection(np.column_stack([px[:, 0] / w, px[:, 1] / h, face.landmarks[:, 2] * tw / w]),
                                         face.transform, face.blendshapes))
        if out:
            return sorted(out, key=lambda f: f.landmarks[:, 0].mean())
    return []


def _refuse_a_turned_picture(session: FaceLandmarkerSession, image: np.ndarray, what: str) -> None:
    """Where no upright face is found, the picture turned by quarter turns is looked at (a phone photo whose EXIF
    orientation was stripped lies on its side): a face found so is a NoFaceError saying how to turn it."""
    for k, how in TURNS.items():
        if detect_faces(session, np.ascontiguousarray(np.rot90(image, k)))[0]:
            raise NoFaceError(f"no upright face in {what}, but the picture holds one lying on its side: turn the "
                              f"picture {how} (its orientation tag may have been lost) and try again")


def pick_face(faces: list[FaceDetection], face_index: int | None, what: str) -> FaceDetection:
    if not faces:
        raise NoFaceError(f"no face found in {what}: use a photo of a person with one clearly visible, roughly frontal "
                          "face, all of it inside the picture")
    if face_index is None:
        if len(faces) > 1:
            raise MultipleFacesError(
                len(faces),
                f"{len(faces)} faces found in {what}: choose one with --face-index 0..{len(faces) - 1} "
                "(faces are numbered left to right)",
            )
        return faces[0]
    if not 0 <= face_index < len(faces):
        raise MultipleFacesError(len(faces), f"face index {face_index} out of range: {what} has {len(faces)} face(s)")
    return faces[face_index]


def detect_faces(session: FaceLandmarkerSession, image: np.ndarray) -> tuple[list[FaceDetection], bool]:
    """The faces in `image` (left to right) and whether they are small: found only by the tiled search.
    A small face's landmarks are mapped into the image (normalized like the image's own); its transform is the
    tile's and only good for locating the face."""
    faces = session.detect(image)
    if faces:
        return faces, False
    h, w = image.shape[:2]
    for share in SMALL_FACE_TILE_SHARES:
        side = int(round(min(h, w) * share))
        if side < MIN_FACE_BOX_PX:
            break
        found: list[tuple[float, FaceDetection]] = []  # (distance of the face from its tile's centre, face)
        for top in _tile_starts(h, side):
            for left in _tile_starts(w, side):
                for face in session.detect(np.ascontiguousarray(image[top:top + side, left:left + side])):
                    lm = face.landmarks[:, :2]
                    if lm.min() < TILE_EDGE_MARGIN or lm.max() > 1.0 - TILE_EDGE_MARGIN:
                        continue
                    px = lm * side + (left, top)
                    landmarks = np.column_stack([px[:, 0] / w, px[:, 1] / h, face.landmarks[:, 2] * side / w])
                    found.append((float(np.abs(lm.mean(0) - 0.5).max()), FaceDetection(landmarks, face.transform, face.blendshapes)))
        faces = _distinct_faces(found, w, h)
        if faces:
            return faces, True
    return [], False


def _tile_starts(length: int, side: int) -> list[int]:
    """Tile origins along one axis: stride half a tile, the last tile flush with the end."""
    if side >= length:
        return [0]
    starts = list(range(0, length - side, side // 2))
    return starts + [length - side]


def _distinct_faces(found: list[tuple[float, FaceDetection]], width: int, height: int) -> list[FaceDetection]:
    """One detection per face (neighbouring tiles overlap): the one nearest its tile's centre, left to right."""
    kept: list[FaceDetection] = []
    for _, face in sorted(found, key=lambda item: item[0]):
        x0, y0, x1, y1 = face_box(face.pixels(width, height))
        centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        if all(np.abs(centre - k.pixels(width, height).mean(0)).max() > (x1 - x0) / 2 for k in kept):
            kept.append(face)
    return sorted(kept, key=lambda f: f.landmarks[:, 0].mean())


def face_box(pixels: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = pixels.min(axis=0)
    x1, y1 = pixels.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def crop_rect(box: tuple[float, float, float, float], expand: float, width: int, height: int) -> tuple[int, int, int]:
    """(left, top, side) of the square face crop in image pixels; it may reach past the image.

    The side is `expand` x the face box, shrunk towards MIN_CROP_EXPAND where the image is too small for it
    (beyond FREE_EXTENSION of the side on either edge);
    the square is then shifted towards the inside of the image by up to MAX_CROP_SHIFT of its side (shift
    before padding: a real pixel beats any invented one), so the face stays near the centre; overshoots
    within FREE_EXTENSION of the side are left to the extension."""
    x0, y0, x1, y1 = box
    face = max(x1 - x0, y1 - y0)
    side = expand * face
    fits = min(width, height) / (1.0 - 2.0 * FREE_EXTENSION)  # the most an image holds, with its free margins
    if side > fits:
        side = max(fits, min(expand, MIN_CROP_EXPAND) * face)
    side = max(int(round(side)), 2)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    limit = MAX_CROP_SHIFT * side

    free = FREE_EXTENSION * side

    def place(centre: float, extent: int) -> int:
        start = centre - side / 2.0
        inside = min(max(start, 0.0), max(extent - side, 0.0)) if side <= extent else (extent - side) / 2.0
        need = inside - start
        shift = np.sign(need) * max(abs(need) - free, 0.0)  # the first `free` px are left to the extension
        return int(round(start + float(np.clip(shift, -limit, limit))))

    return place(cx, width), place(cy, height), side


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], expand: float) -> np.ndarray:
    """The square face crop (see crop_rect); what lies past the image is filled by extend_border."""
    h, w = image.shape[:2]
    left, top, side = crop_rect(box, expand, w, h)
    return crop_with_extension(image, left, top, side)


def crop_with_extension(image: np.ndarray, left: int, top: int, side: int) -> np.ndarray:
    """image[top:top+side, left:left+side] where the square may reach past the image: the real pixels, and
    extend_border's continuation outside (computed at most EXTENSION_WORK_PX across the crop: it is blurry)."""
    import cv2

    h, w = image.shape[:2]
    y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + side, h), min(left + side, w)
    if (y0, x0, y1, x1) == (top, left, top + side, left + side):
        return np.ascontiguousarray(image[y0:y1, x0:x1])
    if y1 - y0 < 2 or x1 - x0 < 2:
        raise ValueError(f"the crop ({left}, {top}, side {side}) does not overlap the {w}x{h} image")
    region = image[y0:y1, x0:x1]
    f = min(1.0, EXTENSION_WORK_PX / side)
    work = max(2, round(side * f))
    rh, rw = max(2, round((y1 - y0) * f)), max(2, round((x1 - x0) * f))
    small = region if f == 1.0 else cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
    pt, pl = round((y0 - top) * f), round((x0 - left) * f)
    pb, pr = max(0, work - rh - pt), max(0, work - rw - pl)
    ext = extend_border(small, pt, pb, pl, pr, scale=work)[:work, :work]
    if ext.shape[:2] != (side, side):
        ext = cv2.resize(ext, (side, side), interpolation=cv2.INTER_LINEAR)
    out = np.array(ext)
    out[y0 - top: y1 - top, x0 - left: x1 - left] = region
    return out


def _wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones on a downscaled copy (the result is smooth at that scale anyway)."""
    import cv2

    h, w = image.shape[:2]
    k = sigma / 3.0
    if k < 2.0:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    small = cv2.resize(image, (max(2, round(w / k)), max(2, round(h / k))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 3.0)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def extend_border(image: np.ndarray, top: int, bottom: int, left: int, right: int,
                  scale: float | None = None) -> np.ndarray:
    """`image` grown by the given margins with a plausible continuation, never a repeated edge row: the image
    mirrored at its edge and thrown out of focus the further it lies from the edge (blur ~ distance, so a
    mirrored face or collar dissolves into its colours instead of reading as a second one), faded part way
    towards the colour of that edge, with grain matched to the image's own on top. Lengths are fractions of
    `scale` px (default: the longer side of the result)."""
    import cv2

    h, w = image.shape[:2]
    pad = (top, bottom, left, right)
    if not any(pad):
        return image
    # BORDER_REFLECT_101 mirrors without doubling the edge row; repeated for margins wider than the image.
    out = image
    while any(pad):
        step = [min(p, s - 1) for p, s in zip(pad, (out.shape[0],) * 2 + (out.shape[1],) * 2)]
        out = cv2.copyMakeBorder(out, *step, borderType=cv2.BORDER_REFLECT_101)
        pad = tuple(p - s for p, s in zip(pad, step))
    H, W = out.shape[:2]
    scale = float(scale or max(H, W))
    ys, xs = np.arange(H, dtype=np.float32), np.arange(W, dtype=np.float32)
    dy = np.maximum(np.maximum(top - ys, ys - (top + h - 1)), 0)[:, None] + np.zeros((1, W), np.float32)
    dx = np.maximum(np.maximum(left - xs, xs - (left + w - 1)), 0)[None, :] + np.zeros((H, 1), np.float32)
    dist = np.sqrt(dy**2 + dx**2)  # px outside the original image
    src = out.astype(np.float32)
    # A blur growing with the distance, approximated by blending a few levels.
    sigmas = np.array(EXTENSION_BLUR_LEVELS, dtype=np.float32) * scale
    levels = [src] + [_wide_blur(src, float(s)) for s in sigmas]
    t = np.interp(dist, np.concatenate([[0.0], sigmas / EXTENSION_BLUR_PER_DISTANCE]), np.arange(len(levels)))
    blurred = np.zeros_like(src)
    for k, level in enumerate(levels):
        weight = np.clip(1.0 - np.abs(t - k), 0.0, 1.0).astype(np.float32)[..., None]
        blurred += weight * level
    # Towards the mean colour of the nearest edge strip (mixed by direction near the corners).
    strip = max(2, int(round(EXTENSION_EDGE_STRIP * scale)))
    img = image.astype(np.float32)
    colour_y = np.where((ys < top)[:, None, None], img[:strip].mean((0, 1)), img[-strip:].mean((0, 1)))
    colour_x = np.where((xs < left)[None, :, None], img[:, :strip].mean((0, 1)), img[:, -strip:].mean((0, 1)))
    share = (dy / np.maximum(dy + dx, 1e-6))[..., None]
    edge_colour = share * colour_y + (1.0 - share) * colour_x
    fade = EXTENSION_FADE_MAX * np.clip(dist / (EXTENSION_FADE_AT * scale), 0.0, 1.0)[..., None]
    filled = blurred * (1.0 - fade) + edge_colour * fade
    # Grain: what the blur removed, as noise of the image's own strength (robust std of its fine detail).
    detail = img - cv2.GaussianBlur(img, (0, 0), 1.0)
    grain = 1.4826 * float(np.median(np.abs(detail - np.median(detail))))
    noise = np.random.default_rng(EXTENSION_SEED).standard_normal(src.shape[:2], dtype=np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 0.7) * (grain / 0.33)  # 0.33: std left by the 0.7 px blur
    filled += (noise * np.clip(dist / max(sigmas[0] / EXTENSION_BLUR_PER_DISTANCE, 1.0), 0.0, 1.0))[..., None]
    inside = (dist == 0)[..., None]
    return np.where(inside, out, np.clip(filled + 0.5, 0, 255).astype(np.uint8))


def _listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def fit_even(image: np.ndarray, size: int) -> np.ndarray:
    """Full-frame mode: scale so the longer side is `size`, both sides even (H.264 needs it): an odd side is one
    pixel smaller, never larger than asked (--size 1147 gave 1148)."""
    import cv2

    h, w = image.shape[:2]
    s = size / max(h, w)
    nw, nh = (max(2, int(np.floor(side * s / 2 + 1e-6)) * 2) for side in (w, h))
    return cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def _framed_face(faces: list[FaceDetection], centre: np.ndarray) -> FaceDetection | None:
    """The detection nearest the framed face's expected centre (normalized), if one lies near enough."""
    if not faces:
        return None
    face = min(faces, key=lambda f: np.linalg.norm(f.landmarks[:, :2].mean(0) - centre))
    return face if np.linalg.norm(face.landmarks[:, :2].mean(0) - centre) < FRAMED_FACE_TOLERANCE else None


def analyze_portrait(
    image: np.ndarray | str | os.PathLike,
    *,
    size: int = 512,
    crop: bool = True,
    crop_expand: float = DEFAULT_CROP_EXPAND,
    face_index: int | None = None,
    min_confidence: float = PORTRAIT_MIN_CONFIDENCE,
    what: str | None = None,
) -> ReferenceFace:
    """Detects the face, frames the output (square face crop of `size`, or the full frame scaled to
    `size` on its longer side) and derives the reference mesh and transform in that frame."""
    import cv2

    if not isinstance(image, np.ndarray):
        what = what or str(image)
        image = load_image(image)
    what = what or "the image"
    with FaceLandmarkerSession(max_faces=MAX_FACES, min_confidence=min_confidence) as session:
        faces, small = detect_faces(session, image)
        if not faces:
            faces = _tilted_faces(session, image)
        if not faces:
            _refuse_a_turned_picture(session, image, what)
        face = pick_face(faces, face_index, what)
        h, w = image.shape[:2]
        x0, y0, x1, y1 = face_box(face.pixels(w, h))
        if max(x1 - x0, y1 - y0) < MIN_FACE_BOX_PX:
            raise FaceTooSmallError(
                f"the face in {what} is too small ({x1 - x0:.0f}x{y1 - y0:.0f} px): use a photo where the face "
                f"is at least {MIN_FACE_BOX_PX} px across"
            )
        if small and not crop:
            # the renderer and the landmarker see the whole frame, where such a face is not found again
            raise FaceTooSmallError(
                f"the face in {what} is too small for full-frame framing ({100 * (y1 - y0) / h:.0f} % of the "
                f"frame's height; the face landmarker needs about 20 %): leave out --full-frame to crop around "
                f"the face, or crop the photo closer"
            )
        cut = 1.0 - (min(x1, w) - max(x0, 0)) * (min(y1, h) - max(y0, 0)) / max((x1 - x0) * (y1 - y0), 1e-9)
        if cut > FACE_CUT_WARN:
            warnings.warn(f"the face in {what} runs off the picture's edge ({100 * cut:.0f} % of it is outside): "
                          "that part is filled in, blurred, and the jaw moves into it; a photo with the whole face "
                          "in it looks right", stacklevel=2)
        source_px = crop_rect((x0, y0, x1, y1), crop_expand, w, h)[2] if crop else max(w, h)
        if size > MAX_UPSCALE * source_px:
            warnings.warn(f"{what} gives {source_px:.0f} px for the {size} px output: upscaled "
                          f"{size / source_px:.1f}x, the render is soft and slow (an output size near "
                          f"{source_px:.0f} px keeps the photo's detail)", stacklevel=2)
        if crop:
            left, top, side = crop_rect((x0, y0, x1, y1), crop_expand, w, h)
            past = {"left": -left, "top": -top, "right": left + side - w, "bottom": top + side - h}
            edges = sorted((e for e in past if past[e] > EXTENSION_WARN * side), key=lambda e: -past[e])
            if edges and cut <= FACE_CUT_WARN:  # every side that is filled in (a close photo: all four)
                shares = _listed([f"{e} {100 * past[e] / side:.0f} %" for e in edges])
                one = len(edges) == 1
                warnings.warn(f"the face in {what} is near the picture's {_listed(edges)} edge{'' if one else 's'}: "
                              f"the frame's {shares} {'lies' if one else 'lie'} past the photo and "
                              f"{'is' if one else 'are'} filled in, blurred (a photo with more room around the face, "
                              "or --full-frame, shows only real pixels)", stacklevel=2)
            framed = crop_with_extension(image, left, top, side)
            interp = cv2.INTER_AREA if framed.shape[0] > size else cv2.INTER_CUBIC
            framed = cv2.resize(framed, (size, size), interpolation=interp)
            centre = np.array([((x0 + x1) / 2.0 - left) / side, ((y0 + y1) / 2.0 - top) / side])
        else:
            framed = fit_even(image, size)
            if max(framed.shape[:2]) != size:
                warnings.warn(f"the full frame at {size} px is {framed.shape[1]}x{framed.shape[0]}: H.264 needs even "
                              "sides", stacklevel=2)
            centre = np.array([(x0 + x1) / 2.0 / w, (y0 + y1) / 2.0 / h])
        # Detect again in the output frame, since landmarks there are what the renderer must match. The same
        # session serves (a second landmarker costs ~0.7 s to start); the face is known to be there, so a
        # framing that scores below the portrait threshold is looked at again at the default confidence.
        face = _framed_face(session.detect(framed), centre)
    if face is None:
        with FaceLandmarkerSession(max_faces=MAX_FACES) as session:
            face = _framed_face(session.detect(framed), centre)
    if face is None:
        raise NoFaceError(f"the face in {what} is lost after framing it at {size} px: try a larger --size")
    fh, fw = framed.shape[:2]
    return ReferenceFace(
        image=framed,
        landmarks=face.landmarks,
        mesh=canonical_mesh_of(face, fw, fh),
        transform=face.transform,
        blendshapes=face.blendshapes,
    )
