"""3D viewport (vispy): the evaluated mesh at the playhead with the head pose applied, lips in the upper/lower
colours, orbit/zoom camera (drag/wheel), shaded or wireframe, and optionally the reference mesh ghosted."""
from __future__ import annotations

import numpy as np
import vispy

vispy.use("pyside6")
from vispy import scene  # noqa: E402  (the backend must be chosen before the scene module loads)
from vispy.visuals.filters import WireframeFilter  # noqa: E402

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget  # noqa: E402

from editor.session import MOTION_CHANGES, EditorSession  # noqa: E402
from engine.face.canonical import load_canonical_model  # noqa: E402
from engine.geometry import camera_points  # noqa: E402
from engine.render.pose_image import POSE_IMAGE_SPEC  # noqa: E402

UPPER_LIP_COLOR = (0.95, 0.45, 0.35, 1.0)
LOWER_LIP_COLOR = (0.35, 0.7, 0.95, 1.0)
FRONT_AZIMUTH = 90.0  # TurntableCamera(up="+y") looks down -z (at the face) from this azimuth


def _lip_edges(part: str) -> np.ndarray:
    return np.array([e for name, _, edges in POSE_IMAGE_SPEC if name.startswith("lips") and part in name
                     for e in edges], dtype=np.uint32)


class Viewport3D(QWidget):
    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.faces = load_canonical_model().triangles.astype(np.uint32)
        self.upper_edges, self.lower_edges = _lip_edges("top"), _lip_edges("bottom")

        self.canvas = scene.SceneCanvas(keys=None, bgcolor="#1b1d1f", show=False)
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

        self.wire_box = QCheckBox("Wireframe")
        self.wire_box.toggled.connect(self.set_wireframe)
        self.ghost_box = QCheckBox("Ghost reference")
        self.ghost_box.setChecked(True)
        self.ghost_box.toggled.connect(self._on_ghost)
        reset = QPushButton("Reset view")
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
        layout.addWidget(self.canvas.native, 1)

        self.vertices = empty
        session.project_replaced.connect(self._on_replaced)
        session.frame_changed.connect(lambda _: self.update_frame())
        session.project_changed.connect(lambda change: self.update_frame() if change.kind in MOTION_CHANGES else None)

    def _on_replaced(self) -> None:
        project = self.session.project
        if project is not None:
            self.ghost.set_data(vertices=project.reference.mesh.astype(np.float32), faces=self.faces)
            self.update_frame()
            self.reset_camera()

    def update_frame(self) -> None:
        if self.session.project is None:
            return
        state = self.session.frame_state()
        # canonical vertices moved by the relative head pose (the projection's matrix, without the camera)
        self.vertices = camera_points(state.mesh, np.eye(4), state.pose).astype(np.float32)
        self._move_mesh_vertices()
        self.upper.set_data(pos=self.vertices)
        self.lower.set_data(pos=self.vertices)
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
        self.canvas.update()

    def _on_ghost(self, on: bool) -> None:
        self.ghost.visible = on
        self.canvas.update()

    def reset_camera(self) -> None:
        if self.session.project is None:
            return
        centre = self.session.project.reference.mesh.mean(axis=0)
        cam = self.view.camera
        cam.center = tuple(float(c) for c in centre)
        cam.azimuth, cam.elevation, cam.fov, cam.distance = FRONT_AZIMUTH - 25.0, 8.0, 30.0, 58.0
        self.canvas.update()

    def grab_rgb(self) -> np.ndarray:
        """The rendered viewport as (H, W, 3) uint8 (tests, screenshots)."""
        return self.canvas.render(alpha=False)

    def close_canvas(self) -> None:
        self.canvas.close()
