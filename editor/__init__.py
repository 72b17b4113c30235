"""The Talkline editor (PySide6): views, widgets, undo commands and workers over the engine's document."""
