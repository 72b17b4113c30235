"""The window's centre while no project is open: what the editor does and how to start (the demo, a new project
from a portrait and an audio file, dropped or picked, an existing project, a recent one)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class WelcomePanel(QWidget):
    demo_requested = Signal()
    new_requested = Signal()
    open_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("welcome")
        title = QLabel("Talkline")
        title.setObjectName("welcomeTitle")
        title.setAlignment(Qt.AlignCenter)
        intro = QLabel("A portrait and a speech or music track become a talking-head video: the voice drives a 3D "
                       "face mesh and head pose, which you refine with keys on a timeline before rendering.")
        intro.setWordWrap(True)
        intro.setAlignment(Qt.AlignCenter)
        self.drop = QLabel("Drop a portrait and an audio file here\n(or a video to dub and its new audio)")
        self.drop.setObjectName("dropZone")
        self.drop.setAlignment(Qt.AlignCenter)
        self.drop.setMinimumHeight(110)
        self.drop.setToolTip("Drop an image or a video and an audio file (or a .talkline project) anywhere on the "
                             "window")
        self.demo_button = QPushButton("Open the demo")
        self.demo_button.setToolTip("The astronaut portrait speaking a synthesized sentence (built offline)")
        self.new_button = QPushButton("New project…")
        self.new_button.setToolTip("Pick a portrait and an audio file (Ctrl+N)")
        self.open_button = QPushButton("Open project…")
        self.open_button.setToolTip("Open a .talkline project (Ctrl+O)")
        self.demo_button.clicked.connect(self.demo_requested)
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.demo_button, self.new_button, self.open_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.recent_box = QVBoxLayout()
        self.recent_label = QLabel("Recent projects")
        self.recent_label.setObjectName("hint")

        card = QFrame()
        card.setObjectName("welcomeCard")
        card.setMaximumWidth(620)
        inner = QVBoxLayout(card)
        inner.setSpacing(14)
        inner.addWidget(title)
        inner.addWidget(intro)
        inner.addWidget(self.drop)
        inner.addLayout(buttons)
        inner.addWidget(self.recent_label)
        inner.addLayout(self.recent_box)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 3)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)

    def set_recent(self, paths: list[str]) -> None:
        while self.recent_box.count():
            item = self.recent_box.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for path in paths[:5]:
            button = QPushButton(Path(path).name)
            button.setObjectName("link")
            button.setToolTip(path)
            button.setFlat(True)
            button.clicked.connect(lambda _=False, p=path: self.recent_requested.emit(p))
            self.recent_box.addWidget(button)
        self.recent_label.setVisible(bool(paths))
