"""The reference face of a portrait: the frame the animation is rendered in, its 478 landmarks,
its neutral canonical mesh (468 x 3, cm) and its facial transformation matrix (canonical -> camera)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from engine.errors import FaceTooSmallError, MultipleFacesError, NoFaceError
from engine.face.canonical import load_canonical_model
from engine.face.images import load_image
from engine.face.landmarker import FaceDetection, FaceLandmarkerSession
from engine.geometry import canonical_from_metric, screen_to_metric

MIN_FACE_BOX_PX = 100  # landmark box side below which the mesh is too coarse to animate
DEFAULT_CROP_EXPAND = 1.8  # face box -> square crop side (the reference app uses 1.5; more shows hair and shoulders)
MAX_FACES = 8
# Face-detector score a portrait's face must reach. Real photos score >= 0.90 while animal faces (dog 0.81,
# monkey 0.72 on ../shared/media/not_a_person) slip through MediaPipe's default of 0.5 with a human mesh.
PORTRAIT_MIN_CONFIDENCE = 0.86


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


def pick_face(faces: list[FaceDetection], face_index: int | None, what: str) -> FaceDetection:
    if not faces:
        raise NoFaceError(f"no face found in {what}: use a photo of a person with one clearly visible, roughly frontal face")
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


def face_box(pixels: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0 = pixels.min(axis=0)
    x1, y1 = pixels.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], expand: float) -> np.ndarray:
    """Square of side expand * max(face w, h) centred on the face; edge pixels fill what lies outside."""
    import cv2

    x0, y0, x1, y1 = box
    side = int(round(max(x1 - x0, y1 - y0) * expand))
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    left, top = int(round(cx - side / 2.0)), int(round(cy - side / 2.0))
    h, w = image.shape[:2]
    pad = [max(0, -top), max(0, top + side - h), max(0, -left), max(0, left + side - w)]
    if any(pad):
        image = cv2.copyMakeBorder(image, *pad, borderType=cv2.BORDER_REPLICATE)
        top += pad[0]
        left += pad[2]
    return np.ascontiguousarray(image[top : top + side, left : left + side])


def fit_even(image: np.ndarray, size: int) -> np.ndarray:
    """Full-frame mode: scale so the longer side is `size`, both sides even (H.264 needs it)."""
    import cv2

    h, w = image.shape[:2]
    s = size / max(h, w)
    nw, nh = max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)
    return cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


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
        face = pick_face(session.detect(image), face_index, what)
        h, w = image.shape[:2]
        x0, y0, x1, y1 = face_box(face.pixels(w, h))
        if max(x1 - x0, y1 - y0) < MIN_FACE_BOX_PX:
            raise FaceTooSmallError(
                f"the face in {what} is too small ({x1 - x0:.0f}x{y1 - y0:.0f} px): use a photo where the face "
                f"is at least {MIN_FACE_BOX_PX} px across"
            )
        if crop:
            framed = square_crop(image, (x0, y0, x1, y1), crop_expand)
            interp = cv2.INTER_AREA if framed.shape[0] > size else cv2.INTER_CUBIC
            framed = cv2.resize(framed, (size, size), interpolation=interp)
        else:
            framed = fit_even(image, size)
    # Detect again in the output frame (the face is known to be there: default confidence), since
    # landmarks there are what the renderer must match.
    with FaceLandmarkerSession(max_faces=MAX_FACES) as session:
        faces = session.detect(framed)
    if not faces:
        raise NoFaceError(f"the face in {what} is lost after framing it at {size} px: try a larger --size")
    centre = np.array([(x0 + x1) / 2.0 / w, (y0 + y1) / 2.0 / h])
    target = np.array([0.5, 0.5]) if crop else centre
    face = min(faces, key=lambda f: np.linalg.norm(f.landmarks[:, :2].mean(0) - target))
    fh, fw = framed.shape[:2]
    return ReferenceFace(
        image=framed,
        landmarks=face.landmarks,
        mesh=canonical_mesh_of(face, fw, fh),
        transform=face.transform,
        blendshapes=face.blendshapes,
    )
