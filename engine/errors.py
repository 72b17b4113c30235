"""User-facing errors: each one says what is wrong with the input and what to do about it.

The CLI prints str(error) on one line and exits non-zero; the editor shows it in a dialog.
"""


class TalklineError(Exception):
    """Base class of every error caused by the user's input or environment (not by a bug)."""


def reason(exc: BaseException) -> str:
    """An OS or FFmpeg error's reason as people read it: its text without the errno and the path again."""
    return getattr(exc, "strerror", None) or str(exc)


class FaceModelMissingError(TalklineError):
    """The MediaPipe face landmarker model file cannot be found."""


class SpeechModelMissingError(TalklineError):
    """A file the phone recognition needs (the common-words vocabulary) cannot be found."""


class ImageReadError(TalklineError):
    """An image file cannot be read or decoded."""


class NoFaceError(TalklineError):
    """No face was found in an image."""


class MultipleFacesError(TalklineError):
    """Several faces were found and the caller did not say which one to use."""

    def __init__(self, count: int, message: str):
        super().__init__(message)
        self.count = count


class FaceTooSmallError(TalklineError):
    """The face is too small in the image for a usable animation."""


class AudioReadError(TalklineError):
    """An audio (or video) file cannot be read, has no audio stream, or is empty."""


class VideoReadError(TalklineError):
    """A video file cannot be read or has no video stream."""


class ProjectFileError(TalklineError):
    """A project file is empty, corrupt, of an unknown version or fails validation."""


class ExportError(TalklineError):
    """An output file cannot be written."""


class ConfigError(TalklineError):
    """Settings (a backend's config, gains) with an unknown key, a wrong type, a bad value or a newer version."""


class BackendError(TalklineError):
    """An Audio2Lmk backend or renderer is unknown or cannot run here (missing weights, no GPU, missing package)."""


class MemoryLimitError(TalklineError):
    """Work would need more memory than the machine has free (or than the budget allows)."""


class Cancelled(TalklineError):
    """Work (a prediction, a render) was cancelled by the user."""


class RenderCancelled(Cancelled):
    """A render job was cancelled by the user."""


class UsageError(TalklineError):
    """A command-line option or an input file given with it (a transcript) is unusable."""
