"""2D preview: the project's renderer (or the warp where it cannot follow the playhead), the pose image, or the
portrait with landmarks, of the playhead frame.

Frames render on one background thread; a new request replaces any that has not started (latest wins),
so scrubbing and playback never queue up stale work."""
from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from editor.session import MOTION_CHANGES, EditorSession
from engine.document.changes import Change, ChangeKind
from engine.motion import Motion
from engine.plugins import RENDERERS, Choice
from engine.render.compose import render_one
from engine.render.pose_image import pose_image_rgb
from engine.sources.base import FaceSource

PREVIEW_MODES = ("render", "pose image", "landmarks")


def preview_renderer(choice: Choice) -> tuple[type, object]:
    """(renderer class, config) for previewing with `choice`: itself when it is fast enough to follow the
    playhead and can run here, else the warp renderer."""
    if RENDERERS.availability(choice.name, choice.config)[0] and \
            RENDERERS.get(choice.name).capabilities.realtime_preview:
        return RENDERERS.get(choice.name), choice.config
    warp = RENDERERS.get("warp")
    return warp, warp.Config()


@dataclass(frozen=True)
class PreviewRequest:
    serial: int  # increases with every request, so the view knows when it shows the latest one
    frame: int
    mode: str
    landmarks_px: np.ndarray  # (468, 2)
    state: object = None  # the FrameState the landmarks come from (the 3D viewport shows it with the image)


class PreviewRenderer(QObject):
    """One worker thread; `submit` drops a queued request that a newer one replaces (napari slicer pattern)."""

    rendered = Signal(object, object)  # PreviewRequest, RGB uint8 image
    failed = Signal(object, str)  # PreviewRequest, message

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
        self._lock = threading.Lock()
        self._pending: PreviewRequest | None = None
        self._busy = False
        self._target: tuple[FaceSource, Choice] | None = None
        self._built: tuple[tuple[FaceSource, Choice], object] | None = None  # worker thread only
        self._turn_limited = False  # the last frame rendered was turned past the renderer's limit (worker only)

    def set_target(self, source: FaceSource | None, renderer: Choice | None) -> None:
        """The source and renderer choice to preview (the renderer is built on the worker, on first use)."""
        with self._lock:
            self._target = (source, renderer) if source is not None else None

    def submit(self, request: PreviewRequest) -> None:
        with self._lock:
            self._pending = request
            if self._busy:
                return
            self._busy = True
        self._pool.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                request, self._pending = self._pending, None
                target = self._target
                if request is None or target is None:
                    self._busy = False
                    return
            try:
                self.rendered.emit(request, self.render(request, *target))
            except Exception as exc:  # noqa: BLE001  (shown in the preview, never kills the worker)
                self.failed.emit(request, f"{type(exc).__name__}: {exc}")

    def render(self, request: PreviewRequest, source: FaceSource, choice: Choice) -> np.ndarray:
        reference = source.reference
        if request.mode == "pose image":
            return pose_image_rgb(request.landmarks_px, reference.width, reference.height)
        if request.mode == "landmarks":  # the frame the landmarks are drawn over: a video's own at the playhead
            full_frame = getattr(source, "full_frame", None)
            return full_frame(request.frame) if full_frame is not None else reference.image
        # Compared by identity: a new source or choice (project replaced, renderer changed) builds a new one.
        if self._built is None or self._built[0][0] is not source or self._built[0][1] is not choice:
            cls, config = preview_renderer(choice)
            self._built = ((source, choice), cls(source, config))
        # over a video (dubbing): the window rendered and its lower face composed into the source frame
        return render_one(source, self._built[1], self._shown_landmarks(request, source), request.frame)

    def _shown_landmarks(self, request: PreviewRequest, source: FaceSource) -> np.ndarray:
        """The request's landmarks as the render gives them to this renderer: a turn past what it can show is
        soft-limited (engine.render.turn_limit), and the first such frame says so in the status bar."""
        limit = type(self._built[1]).capabilities.turn_limit
        state = request.state
        if limit is None or state is None:
            return request.landmarks_px
        own = source.geometry(request.frame, request.frame + 1)[1]
        past = bool(limit.past(state.pose[None], own).any())
        if past and not self._turn_limited:
            warnings.warn(f"the head is turned further than the {type(self._built[1]).name} renderer can show: the "
                          "preview and the render show it turned less (the pose values keep the turn)", stacklevel=2)
        self._turn_limited = past
        if not past:
            return request.landmarks_px
        ref = source.reference
        return Motion(0.0, state.mesh[None], limit.shown(state.pose[None], own)).landmarks_px(
            ref.transform, ref.width, ref.height)[0]

    def shutdown(self) -> None:
        with self._lock:
            self._pending = None
        self._pool.shutdown(wait=True)


class ImageView(QWidget):
    """An RGB array fitted to the widget (aspect kept), optionally with landmark dots on top."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(160, 160)
        self._image: QImage | None = None
        self._size = (1, 1)
        self.points: np.ndarray | None = None  # (N, 2) pixels of the image

    def set_image(self, rgb: np.ndarray) -> None:
        rgb = np.ascontiguousarray(rgb)
        h, w = rgb.shape[:2]
        self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        self._size = (w, h)
        self.update()

    def target_rect(self) -> QRectF:
        w, h = self._size
        scale = min(self.width() / w, self.height() / h)
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def paintEvent(self, _):
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#141517"))
        if self._image is None:
            return
        rect = self.target_rect()
        painter.setRenderHint(QPainter.SmoothPixmapTransform)
        painter.drawImage(rect, self._image)
        if self.points is not None:
            s = rect.width() / self._size[0]
            painter.setRenderHint(QPainter.Antialiasing)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor(90, 230, 140, 220))
            for x, y in self.points:
                painter.drawEllipse(QPointF(rect.x() + x * s, rect.y() + y * s), 1.6, 1.6)


class Preview2D(QWidget):
    frame_shown = Signal(int, object)  # frame, FrameState: what the preview now shows (the 3D view follows)

    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.renderer = PreviewRenderer(self)
        self.renderer.rendered.connect(self._on_rendered)
        self.renderer.failed.connect(self._on_failed)
        self.shown_frame = -1
        self.render_title = ""  # the renderer the "render" mode shows
        self._serial = 0
        self._shown_serial = -1

        self.mode_box = QComboBox()
        self.mode_box.addItems(PREVIEW_MODES)
        self.mode_box.setToolTip("What the centre shows: the renderer's frame, the pose image (what a neural renderer is "
                                 "given) or the portrait with the landmarks")
        self.mode_box.currentTextChanged.connect(lambda _: self.request())
        self.status = QLabel("")
        self.status.setObjectName("hint")
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.mode_box)
        bar.addStretch(1)
        bar.addWidget(self.status)
        self.image_view = ImageView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.image_view, 1)

        session.project_replaced.connect(self._on_replaced)
        session.frame_changed.connect(lambda _: self.request())
        session.project_changed.connect(self._on_project_changed)

    @property
    def mode(self) -> str:
        return self.mode_box.currentText()

    def set_mode(self, mode: str) -> None:
        self.mode_box.setCurrentText(mode)

    def _on_replaced(self) -> None:
        self._retarget()
        self.shown_frame = -1
        self.request()

    def _on_project_changed(self, change: Change) -> None:
        if change.kind in (ChangeKind.RENDERER, ChangeKind.FACE):
            self._retarget()
            self.request()
        elif change.kind in MOTION_CHANGES:
            self.request()

    def _retarget(self) -> None:
        project = self.session.project
        if project is None:
            self.renderer.set_target(None, None)
            return
        self.renderer.set_target(project.source, project.renderer)
        self.render_title = preview_renderer(project.renderer)[0].title

    def request(self) -> None:
        """Ask for the playhead frame in the current mode (cheap: the render happens on the worker)."""
        if self.session.project is None:
            return
        self._serial += 1
        state = self.session.frame_state()
        self.renderer.submit(PreviewRequest(self._serial, self.session.frame, self.mode, state.landmarks_px, state))

    @property
    def up_to_date(self) -> bool:
        """True once the latest request is on screen."""
        return self._shown_serial == self._serial

    def _on_rendered(self, request: PreviewRequest, rgb: np.ndarray) -> None:
        self.image_view.points = request.landmarks_px if request.mode == "landmarks" else None
        self.image_view.set_image(rgb)
        self.shown_frame, self._shown_serial = request.frame, request.serial
        via = f"  ·  {self.render_title}" if request.mode == "render" else ""
        self.status.setText(f"frame {request.frame}{via}")
        self.frame_shown.emit(request.frame, request.state)

    def _on_failed(self, request: PreviewRequest, message: str) -> None:
        self.status.setText(f"preview failed: {message}")
        self.frame_shown.emit(request.frame, request.state)

    def current_image(self) -> np.ndarray | None:
        """The displayed frame as RGB (tests)."""
        img = self.image_view._image
        if img is None:
            return None
        ptr = img.constBits()
        return np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())[:, :img.width() * 3] \
            .reshape(img.height(), img.width(), 3).copy()
