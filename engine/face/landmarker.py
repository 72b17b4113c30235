"""MediaPipe FaceLandmarker sessions (IMAGE and VIDEO running modes).

Each session is a context manager and must be closed: a landmarker left to the garbage collector
prints a traceback at interpreter exit with mediapipe 1.2.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np

from engine.face.model_file import face_landmarker_path


@dataclass(frozen=True)
class FaceDetection:
    landmarks: np.ndarray  # (478, 3) normalized: x, y in [0, 1] of the frame, z scaled like x
    transform: np.ndarray  # (4, 4) canonical -> camera facial transformation matrix
    blendshapes: dict[str, float]

    def pixels(self, width: int, height: int) -> np.ndarray:
        return self.landmarks[:, :2] * np.array([width, height])


@contextlib.contextmanager
def quiet_native_stderr():
    """Silences MediaPipe's native INFO/WARNING chatter (written straight to fd 2, deaf to GLOG_* settings)
    so a command's own messages stay readable. TALKLINE_NATIVE_LOGS=1 shows it."""
    if os.environ.get("TALKLINE_NATIVE_LOGS"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class FaceLandmarkerSession:
    def __init__(self, *, video: bool = False, max_faces: int = 1, model_path: str | os.PathLike | None = None,
                 min_confidence: float = 0.5):
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(face_landmarker_path(model_path))),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=max_faces,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        with quiet_native_stderr():
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._video = video

    def __enter__(self) -> "FaceLandmarkerSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def detect(self, rgb: np.ndarray, timestamp_s: float | None = None) -> list[FaceDetection]:
        """Faces in an RGB uint8 frame, ordered left to right. VIDEO sessions need increasing timestamps."""
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb[..., :3]))
        with quiet_native_stderr():
            if self._video:
                result = self._landmarker.detect_for_video(image, int(round((timestamp_s or 0.0) * 1000)))
            else:
                result = self._landmarker.detect(image)
        faces = []
        for i, lms in enumerate(result.face_landmarks):
            landmarks = np.array([[p.x, p.y, p.z] for p in lms], dtype=np.float64)
            blend = {c.category_name: float(c.score) for c in result.face_blendshapes[i]} if result.face_blendshapes else {}
            faces.append(FaceDetection(landmarks, np.asarray(result.facial_transformation_matrixes[i], dtype=np.float64), blend))
        faces.sort(key=lambda f: f.landmarks[:, 0].mean())
        return faces
