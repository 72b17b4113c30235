"""Inspector: a slider per pose channel and rig control showing the RESULT at the playhead (base layer after gains
+ edit layer): dragging a slider or typing a value into its box sets the result, and the key stores what it
takes (result - base), so an over-open mouth is reduced right here. Left/right controls (smile, frown, stretch,
...) move together, each keeping its offset from the other; hold Alt while pressing a slider to move one side alone. The check box
selects the channel for the graph editor, the dope sheet and the set-key shortcut. Below: the global gains,
scaling a channel group over a range, and the Audio2Lmk backend with its settings (a form generated from the
backend's config) and a regenerate button.

During playback the readouts refresh a few times a second (session.FrameFollower), and only rows whose shown
values changed are touched."""
from __future__ import annotations

import dataclasses
import itertools

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox, QLabel, QPushButton, QScrollArea, QSlider, QSpinBox, QVBoxLayout, QWidget)

from editor.commands import GainsCommand, edit_curves
from editor.config_form import ChoiceForm
from editor.dialogs import show_error
from editor.session import MOTION_CHANGES, EditorSession, FrameFollower
from engine.document.changes import Change, ChangeKind
from engine.document.edits import CHANNEL_GROUPS
from engine.document.project import POSE_CHANNELS, Gains
from engine.document.readout import channel_readout
from engine.errors import ConfigError
from engine.limits import MAX_INTENSITY
from engine.plugins import A2L_BACKENDS
from engine.rig import load_rig

SLIDER_STEPS = 1000
SLIDER_MIN_WIDTH = 80  # px: a tenth of the range is 8 px of drag
POSE_RANGES = {"rx": (-30.0, 30.0), "ry": (-30.0, 30.0), "rz": (-30.0, 30.0),
               "tx": (-5.0, 5.0), "ty": (-5.0, 5.0), "tz": (-5.0, 5.0)}
GAIN_SPECS = {"lip": (0.0, MAX_INTENSITY, 0.05, "Scales the base layer's mouth and expression motion"),
              "head": (0.0, MAX_INTENSITY, 0.05, "Scales the base layer's head motion"),
              "smoothing": (0.0, 0.5, 0.01, "Temporal smoothing of the base layer (Gaussian sigma, seconds)"),
              "blink": (0.0, MAX_INTENSITY, 0.05, "Scales the base layer's blinks")}
UNLINK_MODIFIER = Qt.AltModifier


def partner(name: str) -> str | None:
    """The other side of a left/right control (mouthSmileLeft <-> mouthSmileRight), else None."""
    for a, b in (("Left", "Right"), ("Right", "Left")):
        if name.endswith(a):
            return name[: -len(a)] + b
    return None


class FocusedSpinBox(QDoubleSpinBox):
    """A spin box the mouse wheel changes only once it has the keyboard focus (clicked or tabbed into): over an
    unfocused box the wheel scrolls the inspector (scrolling past the lip gain changed it, rescaling the clip)."""

    def __init__(self):
        super().__init__()
        self.setFocusPolicy(Qt.StrongFocus)

    def wheelEvent(self, event) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class ValueBox(FocusedSpinBox):
    """A channel's result, shown and typed (3 decimals; a decimal comma is read as a point; a value past the range
    is clamped to it). The value counts when entered (Return, leaving the box), not per keystroke."""

    def __init__(self, lo: float, hi: float):
        super().__init__()
        # wider than the slider: a result scaled by the gains (up to MAX_INTENSITY) must show as it is, not
        # clamped, and a typed value may go past the slider's reach (a 40 degree turn); a weight never below 0
        reach = MAX_INTENSITY * max(abs(lo), abs(hi))
        self.setRange(lo if lo >= 0.0 else -reach, reach)
        self.setDecimals(3)
        self.setSingleStep((hi - lo) / 100.0)  # Up/Down and the wheel: a hundredth of the slider's range
        self.setButtonSymbols(QDoubleSpinBox.NoButtons)
        self.setObjectName("valueBox")  # the style sheet's rule for a spin box without buttons (editor.style)
        self.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.setKeyboardTracking(False)
        self.setCorrectionMode(QDoubleSpinBox.CorrectToNearestValue)
        self.setMinimumWidth(60)

    def validate(self, text: str, pos: int):
        state, text, pos = super().validate(text.replace(",", "."), pos)
        if state == QValidator.State.Invalid:
            try:
                float(text)
            except ValueError:
                return state, text, pos
            return QValidator.State.Acceptable, text, pos  # a number past the range: clamped to it (setValue)
        return state, text, pos

    def valueFromText(self, text: str) -> float:
        try:
            return min(max(float(text.replace(",", ".")), self.minimum()), self.maximum())
        except ValueError:
            return self.value()


class ChannelRow:
    """Check box (selection), slider (the result), result readout, base readout and key mark for one channel."""

    def __init__(self, name: str, lo: float, hi: float):
        self.name, self.lo, self.hi = name, lo, hi
        self.check = QCheckBox(name)
        self.check.setToolTip(f"Select {name}: the graph editor shows it, S keys it")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        # mouse only: a slider kept the keyboard after a drag, and End or PgUp then set and keyed the channel
        self.slider.setFocusPolicy(Qt.NoFocus)
        # room to drag at the window's smallest (each slider shrank to its bare handle there); the inspector
        # scrolls sideways instead
        self.slider.setMinimumWidth(SLIDER_MIN_WIDTH)
        self.slider.setToolTip(f"{name} at the playhead (base + edit). Drag to set it: a key stores the edit "
                               "that gives this value" + (". Its other side follows; hold Alt to move one side"
                                                           if partner(name) else ""))
        self.readout = ValueBox(lo, hi)
        self.readout.setToolTip("the value at the playhead: base layer + edit. Type a value and press Enter to "
                                "key it exactly")
        self.key_mark = QLabel("")
        self.key_mark.setFixedWidth(12)
        self.key_mark.setStyleSheet("color: #e0a040;")
        self.key_mark.setToolTip("◆: a key at the playhead; ◇: the channel has keys elsewhere")
        self.base_readout = QLabel("")
        self.base_readout.setObjectName("hint")
        self.base_readout.setMinimumWidth(44)
        self.base_readout.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.base_readout.setToolTip("the base layer's value at the playhead (after gains); the edit is the rest")
        self._shown = None

    def to_slider(self, value: float) -> int:
        return round((min(max(value, self.lo), self.hi) - self.lo) / (self.hi - self.lo) * SLIDER_STEPS)

    def from_slider(self, position: int) -> float:
        return self.lo + position / SLIDER_STEPS * (self.hi - self.lo)

    def show(self, result: float, mark: str, base: float | None) -> None:
        shown = (round(result, 3), mark, None if base is None else round(base, 2))
        if shown == self._shown:
            return
        self._shown = shown
        with QSignalBlocker(self.slider):
            self.slider.setValue(self.to_slider(result))
        with QSignalBlocker(self.readout):
            self.readout.setValue(result)
        self.key_mark.setText(mark)
        self.base_readout.setText("" if base is None else f"b {base:.2f}")

    def forget(self) -> None:
        self._shown = None


class _PressWatcher(QObject):
    """Records the keyboard modifiers of each slider press (Alt: unlink left/right)."""

    def __init__(self, inspector: "Inspector"):
        super().__init__(inspector)
        self.inspector = inspector

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.MouseButtonPress:
            self.inspector._press_modifiers = event.modifiers()
        return False


class Inspector(QWidget):
    regenerate_requested = Signal(object)  # engine.plugins.Choice: the Audio2Lmk backend and its config
    scale_requested = Signal(tuple, float, str, float)  # channels, factor, range kind, ramp seconds

    def __init__(self, session: EditorSession, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._drag_ids = itertools.count()
        self._drag: dict | None = None
        self._press_modifiers = Qt.NoModifier
        rig = load_rig()
        specs = [(n, *POSE_RANGES[n]) for n in POSE_CHANNELS] + [(n, *rig.ranges[n]) for n in rig.controls]
        self.rows = {name: ChannelRow(name, lo, hi) for name, lo, hi in specs}
        watcher = _PressWatcher(self)

        channels = QWidget()
        grid = QGridLayout(channels)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setVerticalSpacing(2)
        for r, row in enumerate(self.rows.values()):
            if r == len(POSE_CHANNELS):
                grid.addWidget(self._section("Expression controls (Alt + drag: one side only)"),
                               2 * r, 0, 1, 5)
            elif r == 0:
                grid.addWidget(self._section("Head pose (deg, cm)"), 0, 0, 1, 5)
            grid.addWidget(row.key_mark, 2 * r + 1, 0)
            grid.addWidget(row.check, 2 * r + 1, 1)
            grid.addWidget(row.slider, 2 * r + 1, 2)
            grid.addWidget(row.readout, 2 * r + 1, 3)
            grid.addWidget(row.base_readout, 2 * r + 1, 4)
            row.check.toggled.connect(self._on_checked)
            row.slider.installEventFilter(watcher)
            row.slider.sliderPressed.connect(lambda row=row: self._begin_drag(row))
            row.slider.sliderReleased.connect(self._end_drag)
            row.slider.valueChanged.connect(lambda pos, row=row: self._on_slider(row, pos))
            row.readout.valueChanged.connect(lambda value, row=row: self._on_typed(row, value))
            row.readout.lineEdit().returnPressed.connect(lambda row=row: self._on_entered(row))
        grid.setColumnStretch(2, 1)

        self.gain_boxes: dict[str, QDoubleSpinBox] = {}
        gains_box = QGroupBox("Gains")
        gains_form = QFormLayout(gains_box)
        defaults = Gains()
        for field, (lo, hi, step, tip) in GAIN_SPECS.items():
            box = FocusedSpinBox()
            box.setRange(lo, hi)
            box.setSingleStep(step)
            box.setDecimals(2)
            box.setValue(getattr(defaults, field))  # the empty window shows the defaults, not 0.00
            box.setToolTip(tip)
            # a typed value counts when it is entered (Return, leaving the box), not at every keystroke: each
            # edit refreshes the box, which rewrote "0" as "0.00" under the cursor and refused the "." and "5"
            box.setKeyboardTracking(False)
            box.valueChanged.connect(lambda v, f=field: self._on_gain(f, v))
            gains_form.addRow(field + (" (s)" if field == "smoothing" else ""), box)
            self.gain_boxes[field] = box

        scale_box = QGroupBox("Intensity over a range")
        scale_form = QFormLayout(scale_box)
        self.group_combo = QComboBox()
        self.group_combo.addItems(list(CHANNEL_GROUPS) + ["selected channels"])
        self.group_combo.setToolTip("The channels to scale")
        self.percent_box = QSpinBox()
        self.percent_box.setRange(0, 400)
        self.percent_box.setValue(70)
        self.percent_box.setSuffix(" %")
        self.percent_box.setToolTip("The result (base + edit) of each channel is scaled by this much")
        self.range_combo = QComboBox()
        self.range_combo.addItems(["in/out range", "selected word"])
        self.range_combo.setToolTip("Over the in/out range (I / O), or the word selected in the word lane")
        self.ramp_box = QSpinBox()
        self.ramp_box.setRange(0, 1000)
        self.ramp_box.setValue(100)
        self.ramp_box.setSuffix(" ms")
        self.ramp_box.setToolTip("Eased edges: the scaling fades in and out over this long")
        self.scale_button = QPushButton("Scale")
        self.scale_button.setToolTip("Bake the scaling as keys over the range (one undo step)")
        self.scale_button.clicked.connect(self._request_scale)
        scale_form.addRow("channels", self.group_combo)
        scale_form.addRow("by", self.percent_box)
        scale_form.addRow("over", self.range_combo)
        scale_form.addRow("edges", self.ramp_box)
        scale_form.addRow(self.scale_button)

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

        self.content = QWidget()
        layout = QVBoxLayout(self.content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(channels)
        layout.addWidget(gains_box)
        layout.addWidget(scale_box)
        layout.addWidget(a2l_box)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.content.setEnabled(False)

        session.project_replaced.connect(self._on_replaced)
        self._follow = FrameFollower(session, self.refresh_values, 150, self)
        session.project_changed.connect(self._on_project_changed)
        session.selection_changed.connect(self._on_selection)

    @staticmethod
    def _section(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("section")
        return label

    # --- model -> view ---------------------------------------------------------------------------
    def _on_replaced(self) -> None:
        project = self.session.project
        self.content.setEnabled(project is not None)
        for row in self.rows.values():
            row.forget()
        if project is None:
            return
        self.refresh_values()
        self.refresh_gains()
        self.a2l_form.set_choice(project.a2l)

    def _on_project_changed(self, change: Change) -> None:
        if change.kind is ChangeKind.GAINS:
            self.refresh_gains()
        elif change.kind is ChangeKind.BASE:
            self.a2l_form.set_choice(self.session.project.a2l)
        if change.kind in MOTION_CHANGES:
            self.refresh_values()

    def refresh_values(self) -> None:
        project = self.session.project
        if project is None or not self.isVisible():
            return
        values = channel_readout(project, self.session.frame)
        t = self.session.time
        for name, row in self.rows.items():
            if row.slider.isSliderDown() or (row.readout.hasFocus() and row.readout.lineEdit().isModified()):
                continue  # being dragged or typed into: the user's value stays until it is entered
            base, _edit, result = values[name]
            curve = project.channels[name]
            mark = "◆" if curve.find(t) is not None else ("◇" if len(curve) else "")
            row.show(result, mark, base)

    def showEvent(self, event):
        super().showEvent(event)
        self.refresh_values()

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

    def _begin_drag(self, row: ChannelRow) -> None:
        project = self.session.project
        values = channel_readout(project, self.session.frame)
        linked = partner(row.name) if not (self._press_modifiers & UNLINK_MODIFIER) else None
        self._drag = {"id": next(self._drag_ids), "row": row.name, "start": values[row.name][2],
                      "partner": linked, "partner_start": values[linked][2] if linked else None}

    def _end_drag(self) -> None:
        self._drag = None
        for row in self.rows.values():
            row.forget()
        self.refresh_values()

    def _on_slider(self, row: ChannelRow, position: int) -> None:
        result = row.from_slider(position)
        drag = self._drag if self._drag is not None and self._drag["row"] == row.name else None
        targets = {row.name: result}
        if drag is not None and drag["partner"]:
            targets[drag["partner"]] = drag["partner_start"] + (result - drag["start"])
        elif drag is None and not (self._press_modifiers & UNLINK_MODIFIER):
            targets = self._with_partner(row.name, result)  # a click on the groove or a wheel step
        self.set_results(targets, merge_id=("inspector", row.name, drag["id"]) if drag else None)
        with QSignalBlocker(row.readout):
            row.readout.setValue(result)

    def _on_typed(self, row: ChannelRow, value: float) -> None:
        self.set_results(self._with_partner(row.name, value))

    def _on_entered(self, row: ChannelRow) -> None:
        """Return in a value box: the value is keyed even when it is the one shown (holding a value is a key too;
        the box only signals a change), and the keyboard goes back to the editor's shortcuts."""
        # the text as typed first: Return reaching the box's text field itself (not through the box) came before
        # the box read it, so the old value was keyed, then the typed one: two undo steps
        row.readout.interpretText()
        project = self.session.project
        value = row.readout.value()
        if project.channels[row.name].find(self.session.time) is None or \
                abs(channel_readout(project, self.session.frame)[row.name][2] - value) > 1e-9:
            self._on_typed(row, value)
        row.readout.clearFocus()

    def _with_partner(self, name: str, result: float) -> dict[str, float]:
        """`name` set to `result`, and its other side (if any) moved by the same amount."""
        targets = {name: result}
        other = partner(name)
        if other:
            values = channel_readout(self.session.project, self.session.frame)
            targets[other] = values[other][2] + (result - values[name][2])
        return targets

    def set_results(self, targets: dict[str, float], merge_id=None) -> None:
        """Key each channel at the playhead so that its result (base + edit) is the given value."""
        from engine.document.readout import edit_for_result

        project, frame, t = self.session.project, self.session.frame, self.session.time
        edits = {name: edit_for_result(project, name, frame, value) for name, value in targets.items()}
        label = " + ".join(edits) if len(edits) < 3 else f"{len(edits)} channels"
        edit_curves(self.session.undo_stack, project, list(edits),
                    lambda name, curve: curve.set_key(t, edits[name]), f"Set {label}", merge_id)

    def set_value(self, name: str, value: float, merge_id=None) -> None:
        """Key `name` at the playhead with the edit value `value` (added to the base)."""
        t = self.session.time
        edit_curves(self.session.undo_stack, self.session.project, [name],
                    lambda _, curve: curve.set_key(t, value), f"Set key {name}", merge_id)

    def _on_gain(self, field: str, value: float) -> None:
        if self.session.project is None:
            return
        gains = dataclasses.replace(self.session.project.gains, **{field: value})
        self.session.undo_stack.push(GainsCommand(self.session.project, gains, merge_id=("gain", field)))

    def _request_scale(self) -> None:
        group = self.group_combo.currentText()
        names = tuple(self.session.selection) if group == "selected channels" else CHANNEL_GROUPS[group]
        self.scale_requested.emit(names, self.percent_box.value() / 100.0,
                                  "word" if self.range_combo.currentIndex() == 1 else "in_out",
                                  self.ramp_box.value() / 1000.0)

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
