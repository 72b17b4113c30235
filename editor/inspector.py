"""Inspector: a slider per pose channel and rig control at the playhead (dragging sets a key, one undo step
per drag; the check box selects the channel for the graph editor and the set-key shortcut) with the base
layer's value where the backend gives one, the global gains, and the Audio2Lmk backend with its settings
(a form generated from the backend's config) and a regenerate button."""
from __future__ import annotations

import dataclasses
import itertools

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox, QLabel, QPushButton,
                               QScrollArea, QSlider, QVBoxLayout, QWidget)

from editor.commands import GainsCommand, edit_curves
from editor.config_form import ChoiceForm
from editor.dialogs import show_error
from editor.session import MOTION_CHANGES, EditorSession
from engine.document.changes import Change, ChangeKind
from engine.document.project import POSE_CHANNELS
from engine.errors import ConfigError
from engine.plugins import A2L_BACKENDS
from engine.rig import load_rig

SLIDER_STEPS = 1000
POSE_RANGES = {"rx": (-30.0, 30.0), "ry": (-30.0, 30.0), "rz": (-30.0, 30.0),
               "tx": (-5.0, 5.0), "ty": (-5.0, 5.0), "tz": (-5.0, 5.0)}
GAIN_SPECS = {"lip": (0.0, 3.0, 0.05), "head": (0.0, 3.0, 0.05), "smoothing": (0.0, 0.5, 0.01),
              "blink": (0.0, 3.0, 0.05)}


class ChannelRow:
    """Check box (selection), slider, edit-value readout and base-value readout for one channel."""

    def __init__(self, name: str, lo: float, hi: float):
        self.name, self.lo, self.hi = name, lo, hi
        self.check = QCheckBox(name)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.readout = QLabel("0.000")
        self.readout.setMinimumWidth(58)
        self.readout.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.key_mark = QLabel("")
        self.key_mark.setFixedWidth(12)
        self.key_mark.setStyleSheet("color: #e0a040;")
        self.base_readout = QLabel("")
        self.base_readout.setObjectName("hint")
        self.base_readout.setMinimumWidth(40)
        self.base_readout.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.base_readout.setToolTip("the base layer's value at the playhead (the edit value is added to it)")

    def to_slider(self, value: float) -> int:
        return round((min(max(value, self.lo), self.hi) - self.lo) / (self.hi - self.lo) * SLIDER_STEPS)

    def from_slider(self, position: int) -> float:
        return self.lo + position / SLIDER_STEPS * (self.hi - self.lo)

    def show(self, value: float, keyed: bool, base: float | None) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(self.to_slider(value))
        self.readout.setText(f"{value:.3f}")
        self.key_mark.setText("◆" if keyed else "")
        self.base_readout.setText("" if base is None else f"{base:.2f}")


class Inspector(QWidget):
    regenerate_requested = Signal(object)  # engine.plugins.Choice: the Audio2Lmk backend and its config

    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._drag_ids = itertools.count()
        self._drag_id: int | None = None
        rig = load_rig()
        specs = [(n, *POSE_RANGES[n]) for n in POSE_CHANNELS] + [(n, *rig.ranges[n]) for n in rig.controls]
        self.rows = {name: ChannelRow(name, lo, hi) for name, lo, hi in specs}

        channels = QWidget()
        grid = QGridLayout(channels)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setVerticalSpacing(2)
        for r, row in enumerate(self.rows.values()):
            if r == len(POSE_CHANNELS):
                grid.addWidget(self._section("Expression controls"), 2 * r, 0, 1, 5)
            elif r == 0:
                grid.addWidget(self._section("Head pose (deg, cm)"), 0, 0, 1, 5)
            grid.addWidget(row.key_mark, 2 * r + 1, 0)
            grid.addWidget(row.check, 2 * r + 1, 1)
            grid.addWidget(row.slider, 2 * r + 1, 2)
            grid.addWidget(row.readout, 2 * r + 1, 3)
            grid.addWidget(row.base_readout, 2 * r + 1, 4)
            row.check.toggled.connect(self._on_checked)
            row.slider.sliderPressed.connect(self._begin_drag)
            row.slider.sliderReleased.connect(self._end_drag)
            row.slider.valueChanged.connect(lambda pos, row=row: self._on_slider(row, pos))
        grid.setColumnStretch(2, 1)

        self.gain_boxes: dict[str, QDoubleSpinBox] = {}
        gains_box = QGroupBox("Gains")
        gains_form = QFormLayout(gains_box)
        for field, (lo, hi, step) in GAIN_SPECS.items():
            box = QDoubleSpinBox()
            box.setRange(lo, hi)
            box.setSingleStep(step)
            box.setDecimals(2)
            box.valueChanged.connect(lambda v, f=field: self._on_gain(f, v))
            gains_form.addRow(field + (" (s)" if field == "smoothing" else ""), box)
            self.gain_boxes[field] = box

        a2l_box = QGroupBox("Audio2Lmk")
        a2l_layout = QVBoxLayout(a2l_box)
        self.a2l_form = ChoiceForm(A2L_BACKENDS)
        self.regenerate_button = QPushButton("Regenerate base layer")
        self.regenerate_button.setToolTip("Re-predict from the audio; your keys and gains are kept (undoable)")
        self.regenerate_button.clicked.connect(self._request_regenerate)
        self._regenerating = False
        self.a2l_form.availability_changed.connect(lambda _: self._update_regenerate())
        a2l_layout.addWidget(self.a2l_form)
        a2l_layout.addWidget(self.regenerate_button)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(channels)
        layout.addWidget(gains_box)
        layout.addWidget(a2l_box)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        session.project_replaced.connect(self._on_replaced)
        session.frame_changed.connect(lambda _: self.refresh_values())
        session.project_changed.connect(self._on_project_changed)
        session.selection_changed.connect(self._on_selection)

    @staticmethod
    def _section(text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("color: #e0a040; font-weight: bold; padding-top: 6px;")
        return label

    # --- model -> view ---------------------------------------------------------------------------
    def _on_replaced(self) -> None:
        if self.session.project is None:
            return
        self.refresh_values()
        self.refresh_gains()
        self.a2l_form.set_choice(self.session.project.a2l)

    def _on_project_changed(self, change: Change) -> None:
        if change.kind is ChangeKind.GAINS:
            self.refresh_gains()
        elif change.kind is ChangeKind.BASE:
            self.a2l_form.set_choice(self.session.project.a2l)
        if change.kind in MOTION_CHANGES:
            self.refresh_values()

    def refresh_values(self) -> None:
        project = self.session.project
        if project is None:
            return
        state = self.session.frame_state()
        t = self.session.time
        for name, row in self.rows.items():
            if not row.slider.isSliderDown():
                row.show(state.values.get(name, 0.0), project.channels[name].find(t) is not None,
                         state.base_values.get(name))

    def refresh_gains(self) -> None:
        gains = self.session.project.gains
        for field, box in self.gain_boxes.items():
            with QSignalBlocker(box):
                box.setValue(getattr(gains, field))

    def _on_selection(self, names) -> None:
        for name, row in self.rows.items():
            with QSignalBlocker(row.check):
                row.check.setChecked(name in names)

    # --- view -> model ---------------------------------------------------------------------------
    def _on_checked(self, _checked: bool) -> None:
        self.session.set_selection([n for n, r in self.rows.items() if r.check.isChecked()])

    def _begin_drag(self) -> None:
        self._drag_id = next(self._drag_ids)

    def _end_drag(self) -> None:
        self._drag_id = None
        self.refresh_values()

    def _on_slider(self, row: ChannelRow, position: int) -> None:
        self.set_value(row.name, row.from_slider(position),
                       merge_id=("inspector", row.name, self._drag_id) if self._drag_id is not None else None)
        row.readout.setText(f"{row.from_slider(position):.3f}")

    def set_value(self, name: str, value: float, merge_id=None) -> None:
        """Key `name` at the playhead with `value` (the edit-layer value, added to the base)."""
        t = self.session.time
        edit_curves(self.session.undo_stack, self.session.project, [name],
                    lambda _, curve: curve.set_key(t, value), f"Set key {name}", merge_id)

    def _on_gain(self, field: str, value: float) -> None:
        gains = dataclasses.replace(self.session.project.gains, **{field: value})
        self.session.undo_stack.push(GainsCommand(self.session.project, gains, merge_id=("gain", field)))

    def set_regenerating(self, busy: bool) -> None:
        self._regenerating = busy
        self._update_regenerate()

    def _update_regenerate(self) -> None:
        self.regenerate_button.setEnabled(self.a2l_form.available and not self._regenerating)

    def _request_regenerate(self) -> None:
        try:
            choice = self.a2l_form.choice()
        except ConfigError as exc:
            show_error(self, exc)
            return
        self.regenerate_requested.emit(choice)
