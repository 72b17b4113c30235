"""The Talkline editor (PySide6). Importing it applies the Qt binding workarounds it needs."""
from editor.qt_compat import pin_singleton_refcounts

pin_singleton_refcounts()
