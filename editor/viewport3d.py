"""3D viewport (vispy): the evaluated mesh with the head pose applied, lips in the upper/lower colours,
orbit/zoom camera (drag/wheel), shaded or wireframe, and optionally the reference mesh ghosted.

Rendering: offscreen through EGL where the system has it, the image painted by an ordinary widget. A
QOpenGLWidget anywhere in a window makes Qt compose the whole window through OpenGL on every repaint (with
Mesa's software llvmpipe that alone halves the frame rate of playback); offscreen, only this view's pixels are
drawn by GL. Without EGL (or with TALKLINE_3D=widget) the canvas is an embedded QOpenGLWidget as before.

The view shows the frame of a FrameState it is given (`show_state`): the main window passes the one the 2D
preview has just painted, so the 3D and 2D views always show the same frame, while scrubbing too."""
from __future__ import annotations

import os

import numpy as np
import vispy

vispy.use("pyside6")
from vispy import scene  # noqa: E402  (the backend must be chosen before the scene module loads)
from vispy.visuals.filters import WireframeFilter  # noqa: E402

from PySide6.QtCore import QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget  # noqa: E402

from editor.session import EditorSession  # noqa: E402
from engine.document.changes import Change, ChangeKind  # noqa: E402
from engine.face.canonical import load_canonical_model  # noqa: E402
from engine.geometry import camera_points  # noqa: E402
from engine.render.pose_image import POSE_IMAGE_SPEC  # noqa: E402

UPPER_LIP_COLOR = (0.95, 0.45, 0.35, 1.0)
LOWER_LIP_COLOR = (0.35, 0.7, 0.95, 1.0)
FRONT_AZIMUTH = 90.0  # TurntableCamera(up="+y") looks down -z (at the face) from this azimuth
BACKGROUND = "#1b1d1f"
PLAYBACK_SCALE = 0.5
# The camera's field of view is fixed along the panel's height; a panel narrower than this width / height (the
# face's own proportion at the reset view, with a margin) moves the camera back so the face's width still fits
# (a tall, narrow dock cut half the face off).
FIT_ASPECT = 0.9
RESET_DISTANCE = 58.0
_offscreen_app = None


def _lip_edges(part: str) -> np.ndarray:
    return np.array([e for name, _, edges in POSE_IMAGE_SPEC if name.startswith("lips") and part in name
                     for e in edges], dtype=np.uint32)


def offscreen_app():
    """vispy's EGL application (offscreen rendering), or None where EGL is missing or TALKLINE_3D=widget."""
    global _offscreen_app
    if os.environ.get("TALKLINE_3D", "").lower() == "widget":
        return None
    if _offscreen_app is None:
        try:
            from vispy import app

            _offscreen_app = app.Application("egl")
        except Exception:  # noqa: BLE001  (no libEGL, no device: the widget path works everywhere)
            _offscreen_app = False
    return _offscreen_app or None


def _button(button) -> int | None:
    return {Qt.LeftButton: 1, Qt.RightButton: 2, Qt.MiddleButton: 3}.get(button)


def _modifiers(mods) -> tuple:
    from vispy.util import keys

    out = []
    for flag, key in ((Qt.ShiftModifier, keys.SHIFT), (Qt.ControlModifier, keys.CONTROL), (Qt.AltModifier, keys.ALT)):
        if mods & flag:
            out.append(key)
    return tuple(out)


class CanvasImage(QWidget):
    """Shows an offscreen canvas: renders it at this widget's size when asked (coalesced), forwards the mouse
    to the canvas's camera."""

    def __init__(self, canvas: scene.SceneCanvas, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.image: QImage | None = None
        self.scale = 1.0  # render resolution / widget resolution (lower during playback)
        self.setMinimumSize(120, 120)
        self.setMouseTracking(False)
        self._fbo = None
        self._timer = QTimer(self)  # owned: no render is called after the widget is gone
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.render_now)

    def schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def render_now(self) -> None:
        self._timer.stop()
        if not self.isVisible() or self.canvas is None:
            return
        # The canvas itself takes the render's size (not a smaller framebuffer under a full-size canvas, which
        # vispy lays out for the canvas: the face came out twice as large and off-centre while playing).
        size = (max(int(self.width() * self.scale), 1), max(int(self.height() * self.scale), 1))
        if tuple(self.canvas.size) != size:
            self.canvas.size = size
            # the EGL backend has no window to report the new size: without the event the scene kept its
            # first 400x300 layout inside the larger image (the face sat left of the panel's centre)
            self.canvas.events.resize(size=size, physical_size=size)
        rgb = self.render_rgb(size)
        h, w = rgb.shape[:2]
        self.image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        self.update()

    def render_rgb(self, size: tuple[int, int]) -> np.ndarray:
        """SceneCanvas.render into a framebuffer kept between frames (allocating one per frame costs)."""
        from vispy import gloo

        canvas = self.canvas
        canvas.set_current()
        if self._fbo is None or self._fbo[0] != size:
            shape = (size[1], size[0])
            self._fbo = (size, gloo.FrameBuffer(color=gloo.RenderBuffer(shape), depth=gloo.RenderBuffer(shape)))
        fbo = self._fbo[1]
        canvas.push_fbo(fbo, (0, 0), canvas.size)
        try:
            canvas._draw_scene()
            rgba = fbo.read()
        finally:
            canvas.pop_fbo()
        return np.ascontiguousarray(rgba[..., :3])

    def paintEvent(self, _):
        painter = QPainter(self)
        if self.image is None:
            painter.fillRect(self.rect(), QColor(BACKGROUND))
        else:
            painter.drawImage(self.rect(), self.image)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.schedule()

    def showEvent(self, event):
        super().showEvent(event)
        self.schedule()

    # mouse -> the canvas's camera (as vispy's Qt backend delivers them)
    def _pos(self, ev) -> tuple[float, float]:
        p: QPointF = ev.position()
        return (p.x() * self.scale, p.y() * self.scale)  # in the canvas's pixels

    def mousePressEvent(self, ev):
        b = _button(ev.button())
        if b is not None:
            self.canvas._backend._vispy_mouse_press(pos=self._pos(ev), button=b, modifiers=_modifiers(ev.modifiers()))
            self.schedule()

    def mouseMoveEvent(self, ev):
        self.canvas._backend._vispy_mouse_move(pos=self._pos(ev), modifiers=_modifiers(ev.modifiers()))
        self.schedule()

    def mouseReleaseEvent(self, ev):
        b = _button(ev.button())
        if b is not None:
            self.canvas._backend._vispy_mouse_release(pos=self._pos(ev), button=b,
                                                      modifiers=_modifiers(ev.modifiers()))
            self.schedule()

    def wheelEvent(self, ev):
        d = ev.angleDelta()
        self.canvas.events.mouse_wheel(pos=self._pos(ev), delta=(d.x() / 120.0, d.y() / 120.0),
                                       modifiers=_modifiers(ev.modifiers()))
        self.schedule()


class Viewport3D(QWidget):
    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.faces = load_canonical_model().triangles.astype(np.uint32)
        self.upper_edges, self.lower_edges = _lip_edges("top"), _lip_edges("bottom")
        self.shown_frame: int | None = None

        app = offscreen_app()
        self.offscreen = app is not None
        self.canvas = scene.SceneCanvas(keys=None, bgcolor=BACKGROUND, show=False, size=(400, 300),
                                        **({"app": app} if app is not None else {}))
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = scene.TurntableCamera(up="+y", azimuth=FRONT_AZIMUTH, elevation=0.0, fov=30.0, distance=48.0)
        empty = np.zeros((468, 3), np.float32)
        self.ghost = scene.visuals.Mesh(empty, self.faces, color=(0.8, 0.8, 0.9, 0.12), parent=self.view.scene)
        self.ghost.set_gl_state("translucent", depth_test=False)
        self.mesh = scene.visuals.Mesh(empty, self.faces, color=(0.78, 0.74, 0.70, 1.0), shading="smooth",
                                       parent=self.view.scene)
        self.wireframe = WireframeFilter(color=(0.55, 0.75, 0.95, 1.0), width=1.0, enabled=False)
        self.mesh.attach(self.wireframe)
        self.upper = scene.visuals.Line(empty, connect=self.upper_edges, color=UPPER_LIP_COLOR, width=3,
                                        parent=self.view.scene)
        self.lower = scene.visuals.Line(empty, connect=self.lower_edges, color=LOWER_LIP_COLOR, width=3,
                                        parent=self.view.scene)
        for lips in (self.upper, self.lower):
            lips.set_gl_state("translucent", depth_test=False)
            lips.order = 10
        self.display = CanvasImage(self.canvas) if self.offscreen else self.canvas.native
        self.display.setToolTip("The posed mesh at the frame the 2D preview shows: drag to orbit, wheel to zoom, "
                                "Shift+drag to pan")

        self.wire_box = QCheckBox("Wireframe")
        self.wire_box.setToolTip("Draw the mesh's edges instead of its shaded surface (W)")
        self.wire_box.toggled.connect(self.set_wireframe)
        self.ghost_box = QCheckBox("Ghost reference")
        self.ghost_box.setToolTip("Show the portrait's neutral mesh, faint, behind the animated one")
        self.ghost_box.setChecked(True)
        self.ghost_box.toggled.connect(self._on_ghost)
        reset = QPushButton("Reset view")
        reset.setToolTip("Back to the three-quarter view of the face")
        reset.clicked.connect(self.reset_camera)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        for w in (self.wire_box, self.ghost_box):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.display, 1)

        self.vertices = empty
        self._fit = 1.0  # the camera distance's factor for the panel's proportion (see FIT_ASPECT)
        self.canvas.events.resize.connect(self._on_canvas_resize)
        session.project_replaced.connect(self._on_replaced)
        session.project_changed.connect(self._on_project_changed)
        session.playing_changed.connect(self._on_playing)

    def _on_playing(self, playing: bool) -> None:
        """During playback the offscreen view renders at a lower resolution (its GL fill is the cost with a
        software rasteriser); full resolution again when playback stops."""
        if self.offscreen:
            self.display.scale = PLAYBACK_SCALE if playing else 1.0
            self.ghost.visible = self.ghost_box.isChecked() and not playing  # one draw fewer per played frame
            if not playing:
                self.display.schedule()

    def _on_replaced(self) -> None:
        self.shown_frame = None
        if self.session.project is not None:
            self._show_reference()
            self.reset_camera()

    def _on_project_changed(self, change: Change) -> None:
        if change.kind is ChangeKind.FACE:  # a replaced portrait: its own rest mesh under the motion
            self._show_reference()

    def _show_reference(self) -> None:
        self.ghost.set_data(vertices=self.session.project.reference.mesh.astype(np.float32), faces=self.faces)
        self.update_frame()

    def update_frame(self) -> None:
        """Show the playhead frame (the views' shared evaluation)."""
        if self.session.project is not None:
            self.show_state(self.session.frame, self.session.frame_state())

    def show_state(self, frame: int, state) -> None:
        """Show one evaluated frame (engine.document.project.FrameState)."""
        # canonical vertices moved by the relative head pose (the projection's matrix, without the camera)
        self.vertices = camera_points(state.mesh, np.eye(4), state.pose).astype(np.float32)
        self.shown_frame = frame
        self._move_mesh_vertices()
        self.upper.set_data(pos=self.vertices)
        self.lower.set_data(pos=self.vertices)
        self._redraw()

    def _redraw(self) -> None:
        if self.offscreen:
            self.display.schedule()
        else:
            self.canvas.update()

    def _move_mesh_vertices(self) -> None:
        """New vertex positions for the same faces and colour. MeshVisual.set_data would re-assign the visual's
        shader functions and so recompile its program on the next draw (every frame of playback); only the
        vertex buffer and, through data_updated, the shading filter's normals need to change (vispy 0.17)."""
        data = self.mesh.mesh_data
        data.set_vertices(self.vertices)
        self.mesh._vertices.set_data(data.get_vertices(indexed="faces"), convert=True)
        self.mesh.events.data_updated()
        self.mesh.update()

    def set_wireframe(self, on: bool) -> None:
        self.wireframe.enabled = on
        self.wireframe.wireframe_only = on
        self.mesh.shading_filter.enabled = not on
        self._redraw()

    def _on_ghost(self, on: bool) -> None:
        self.ghost.visible = on
        self._redraw()

    def reset_camera(self) -> None:
        if self.session.project is None:
            return
        centre = self.session.project.reference.mesh.mean(axis=0)
        cam = self.view.camera
        cam.center = tuple(float(c) for c in centre)
        cam.azimuth, cam.elevation, cam.fov, cam.distance = FRONT_AZIMUTH - 25.0, 8.0, 30.0, RESET_DISTANCE * self._fit
        self._redraw()

    def _on_canvas_resize(self, event) -> None:
        """Keeps the face's width in a narrow panel; the user's own zoom is kept as a share of the fitted view."""
        w, h = event.size
        fit = max(1.0, FIT_ASPECT * h / max(w, 1))
        self.view.camera.distance *= fit / self._fit
        self._fit = fit

    def grab_rgb(self) -> np.ndarray:
        """The rendered viewport as (H, W, 3) uint8 (tests, screenshots)."""
        return self.canvas.render(alpha=False)

    def close_canvas(self) -> None:
        if self.offscreen:
            self.display._timer.stop()
            self.display.canvas = None
        self.canvas.close()
