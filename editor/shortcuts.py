"""Keyboard focus: the window's single-key shortcuts (Space, J/K/L, arrows, I/O, S, ...) reach their actions from
any widget of the window except text fields, which keep their keys (typing a transcript types spaces).

A focused widget can claim a key by accepting the ShortcutOverride event that Qt sends it before matching
shortcuts (a slider could claim the arrow keys, a check box Space): this application event filter answers that
event itself for the window's single-key shortcuts, so no widget but a text field can take them."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QKeyCombination, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

_CHORD_MODIFIERS = Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier


def is_text_input(widget: QWidget | None) -> bool:
    if isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


class WindowKeys(QObject):
    """Install with `install()`; `remove()` when the window closes."""

    def __init__(self, window: QWidget, actions):
        super().__init__(window)
        self.window = window
        self.sequences = set()
        for action in actions:
            for seq in action.shortcuts():
                if seq.count() == 1 and not (seq[0].keyboardModifiers() & _CHORD_MODIFIERS):
                    self.sequences.add(seq.toString())

    def install(self) -> None:
        QApplication.instance().installEventFilter(self)

    def remove(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.ShortcutOverride or not isinstance(obj, QWidget) or is_text_input(obj):
            return False
        if obj.window() is not self.window and obj.window().parentWidget() is not self.window:  # floating docks
            return False
        modifiers = event.modifiers() & ~Qt.KeypadModifier
        if QKeySequence(QKeyCombination(modifiers, Qt.Key(event.key()))).toString() in self.sequences:
            event.ignore()  # not claimed by the widget: the shortcut fires
            return True
        return False
