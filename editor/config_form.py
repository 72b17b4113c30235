"""Settings forms generated from a config dataclass (engine.config), so a backend's settings appear in the
editor without editor code for them, and the backend picker: a registry's entries in a combo over the chosen
entry's form (used by the inspector, the render dock and the new-project dialog)."""
from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from engine.config import check_config, field_types, parse_setting
from engine.errors import BackendError, ConfigError
from engine.plugins import Choice, Registry

INT_RANGE = (-2**31, 2**31 - 1)
FLOAT_RANGE = (-1e6, 1e6)
FLOAT_DECIMALS = 4


class _FloatBox(QDoubleSpinBox):
    """Shows 50 as "50" and 0.125 as "0.125" rather than every decimal the box keeps."""

    def textFromValue(self, value: float) -> str:
        return f"{value:.{self.decimals()}f}".rstrip("0").rstrip(".")


def _choices(cls, name: str) -> tuple[str, ...]:
    """A text field's fixed set of values (dataclasses.field(metadata={"choices": ...})), else ()."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return tuple(f.metadata.get("choices", ())) if f.metadata else ()


def _editor(kind: type, optional: bool, choices: tuple[str, ...] = ()) -> QWidget:
    if choices and kind is str and not optional:  # a list to pick from: no typo can make it invalid
        combo = QComboBox()
        combo.addItems(list(choices))
        return combo
    if optional or kind is str:  # a spin box or check box cannot say "none": text, empty = None
        edit = QLineEdit()
        if optional:
            edit.setPlaceholderText("none")
        return edit
    if kind is bool:
        return QCheckBox()
    if kind is int:
        box = QSpinBox()
        box.setRange(*INT_RANGE)
        return box
    box = _FloatBox()
    box.setRange(*FLOAT_RANGE)
    box.setDecimals(FLOAT_DECIMALS)
    box.setSingleStep(0.1)
    return box


def _show(widget: QWidget, value) -> None:
    if isinstance(widget, QComboBox):
        widget.setCurrentText(str(value))
    elif isinstance(widget, QLineEdit):
        widget.setText("" if value is None else str(value))
    elif isinstance(widget, QCheckBox):
        widget.setChecked(value)
    else:
        widget.setValue(value)


def _tooltip(cls, name: str, kind: type, optional: bool) -> str:
    """A field's help: its `help` metadata (dataclasses.field(metadata={"help": ...})) when the config gives one."""
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    text = f.metadata.get("help") if f.metadata else None
    kind_text = {bool: "on/off", int: "a whole number", float: "a number", str: "text"}[kind]
    default = "" if f.default is dataclasses.MISSING else f"; default {f.default!r}"
    return (f"{text}\n" if text else "") + f"{name}: {kind_text}{' (empty: none)' if optional else ''}{default}"


def _changed_signal(widget: QWidget):
    if isinstance(widget, QComboBox):
        return widget.currentTextChanged
    if isinstance(widget, QLineEdit):
        return widget.textChanged
    if isinstance(widget, QCheckBox):
        return widget.toggled
    return widget.valueChanged


class ConfigForm(QWidget):
    """One row per field of a config instance; `hidden` fields get no row and keep their value. `edited` is
    emitted on every change of a field (the caller may re-check the backend's availability)."""

    edited = Signal()

    def __init__(self, config=None, hidden=(), parent: QWidget | None = None):
        super().__init__(parent)
        self.hidden = frozenset(hidden)
        self.widgets: dict[str, QWidget] = {}
        self._kinds: dict[str, tuple[type, bool]] = {}
        self._config = None
        self._fixed_rows = 0  # rows above the fields that a rebuild keeps (ChoiceForm's combo)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        if config is not None:
            self.set_config(config)

    def set_config(self, config) -> None:
        if type(config) is not type(self._config):
            self._build(type(config))
        self._config = config
        for name, widget in self.widgets.items():
            _show(widget, getattr(config, name))

    def _build(self, cls) -> None:
        while self.form.rowCount() > self._fixed_rows:
            self.form.removeRow(self.form.rowCount() - 1)
        self._kinds = field_types(cls)
        self.widgets = {name: _editor(*kind, _choices(cls, name)) for name, kind in self._kinds.items()
                        if name not in self.hidden}
        for name, widget in self.widgets.items():
            widget.setToolTip(_tooltip(cls, name, *self._kinds[name]))
            self.form.addRow(name.replace("_", " "), widget)
            _changed_signal(widget).connect(self.edited)

    def _read(self, name: str, widget: QWidget):
        kind, optional = self._kinds[name]
        if isinstance(widget, QComboBox):
            return widget.currentText()
        if isinstance(widget, QLineEdit):
            text = widget.text().strip()
            if kind is str:
                return (text or None) if optional else text
            return parse_setting(type(self._config), name, text)  # optional int/float/bool: "" -> None
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        original = getattr(self._config, name)
        if isinstance(widget, QDoubleSpinBox) and original is not None \
                and round(original, FLOAT_DECIMALS) == widget.value():
            return original  # untouched: keep the digits the spin box cannot show
        return widget.value()

    def config(self, what: str | None = None):
        """The edited config; ConfigError (naming `what`) when a value is ill-typed or out of range."""
        config = dataclasses.replace(self._config, **{n: self._read(n, w) for n, w in self.widgets.items()})
        check_config(config, what)
        return config


class _blocked:
    """Silences a form's `edited` signal while it is filled programmatically."""

    def __init__(self, form: ConfigForm):
        self.form = form

    def __enter__(self):
        self._was = self.form.signalsBlocked()
        self.form.blockSignals(True)

    def __exit__(self, *exc):
        self.form.blockSignals(self._was)


def entry_title(registry: Registry, name: str) -> str:
    try:
        return registry.get(name).title
    except BackendError:  # a broken plug-in is still listed, by name, with its reason
        return name


class ChoiceForm(ConfigForm):
    """A registry's entries in a combo above the form of the chosen entry's config: edits a Choice.

    Whether the chosen entry can run here is checked against the form's current config (a backend that needs
    a weights folder becomes usable once one is typed); `status` says why not, and `availability_changed`
    tells the owner to enable or disable its action. Only an entry that cannot even be loaded is disabled."""

    availability_changed = Signal(bool)

    def __init__(self, registry: Registry, label: str = "backend", hidden=(), parent: QWidget | None = None):
        super().__init__(hidden=hidden, parent=parent)
        self.registry = registry
        self.combo = QComboBox()
        self.combo.setToolTip(f"The {registry.kind} to use; one that cannot run here says why")
        self.status = QLabel("")
        self.status.setObjectName("warning")
        self.status.setWordWrap(True)
        self.status.hide()
        self.form.addRow(label, self.combo)
        self.form.addRow(self.status)
        self._fixed_rows = 2
        self._shown: Choice | None = None
        self.available = True
        self.combo.currentIndexChanged.connect(self._on_pick)
        self.edited.connect(self.check_availability)

    @property
    def name(self) -> str:
        return self.combo.currentData()

    def set_choice(self, choice: Choice) -> None:
        """Lists the registry as it is now (plug-ins may have come or gone) with `choice` picked."""
        self._shown = choice
        self.combo.blockSignals(True)
        self.combo.clear()
        for i, name in enumerate(self.registry.names()):
            self.combo.addItem(entry_title(self.registry, name), name)
            try:
                self.registry.get(name)
            except BackendError as exc:  # broken: nothing to configure, so not pickable
                self.combo.model().item(i).setEnabled(False)
                self.combo.setItemData(i, str(exc), Qt.ToolTipRole)
                continue
            ok, reason = self.registry.availability(name)
            self.combo.setItemData(i, "can run here" if ok else f"with its default settings: {reason}",
                                   Qt.ToolTipRole)
        self.combo.setCurrentIndex(self.combo.findData(choice.name))
        self.combo.blockSignals(False)
        with _blocked(self):
            self.set_config(choice.config)
        self.check_availability()

    def _on_pick(self) -> None:
        # Back on the shown entry: its config; another entry starts from its defaults.
        shown = self._shown
        with _blocked(self):
            self.set_config(shown.config if shown is not None and shown.name == self.name
                            else self.registry.get(self.name).Config())
        self.check_availability()

    def check_availability(self) -> bool:
        """Can the chosen entry run here with the config as it is typed now? Updates `status`."""
        try:
            config = self.config(entry_title(self.registry, self.name))
            ok, reason = self.registry.availability(self.name, config)
        except ConfigError as exc:
            ok, reason = False, str(exc)
        self.status.setText("" if ok else f"Cannot run: {reason}")
        self.status.setVisible(not ok)
        if ok != self.available:
            self.available = ok
            self.availability_changed.emit(ok)
        return ok

    def choice(self) -> Choice:
        return Choice(self.name, self.config(entry_title(self.registry, self.name)))
