"""Work around a PySide6 6.12.0 reference-count bug on Python < 3.12.

Some bindings return a singleton without taking a reference: SignalInstance.emit() returns True, and
QSignalBlocker.__exit__ returns None, each dropping one reference per call. Every emit() made from Python
(ours and pyqtgraph's, thousands per second while scrubbing) therefore costs True a reference; after a
few thousand the interpreter aborts ("bool_dealloc: deallocating True or False", likewise none_dealloc).
Python 3.12+ makes these singletons immortal, which hides the bug; here we do the equivalent by giving
them a reference count no session can exhaust. Remove when PySide6 is fixed.
"""
from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 50  # ~1e15 emits


def pin_singleton_refcounts() -> None:
    if sys.version_info >= (3, 12):
        return  # immortal already
    for obj in (True, False, None, Ellipsis, NotImplemented):
        # ob_refcnt is the first field of every CPython object (a Py_ssize_t).
        refcnt = ctypes.c_ssize_t.from_address(id(obj))
        if refcnt.value < _HEADROOM:
            refcnt.value += _HEADROOM
