"""Image loading that copes with what users actually hand us: EXIF orientation, RGBA, grayscale,
palette and 16-bit files, very large photos."""
from __future__ import annotations

import os

import numpy as np

from engine.errors import ImageReadError
from engine.limits import MAX_IMAGE_PIXELS, special_file

MAX_SIDE = 4096  # larger photos are downscaled on load: detection gains nothing above this
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")  # what a portrait file is named


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file as RGB uint8 (H, W, 3), upright per its EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # the check below, from the header, says what to do in Talkline's words
    if special_file(path):
        raise ImageReadError(f"{path} is not a file but a pipe or a device: save the image to a file")  # (it hung)
    try:
        with Image.open(path) as im:  # reads the header only
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise ImageReadError(f"image {path} is {w}x{h} px, more than the {MAX_IMAGE_PIXELS // 10**6} "
                                     "megapixels Talkline reads: downscale it")
            if max(w, h) > 2 * MAX_SIDE:
                im.draft("RGB", (w // 2, h // 2))  # JPEG: decode at a reduced scale (cheaper, same result)
            im = ImageOps.exif_transpose(im)
            return to_rgb8(im)
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path}") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path} is a folder, not an image") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if _is_video(path):
            raise ImageReadError(f"{path} is a video, not a portrait image: lip-sync it with `dub VIDEO AUDIO`, or "
                                 "drive a portrait with it: `reenact PORTRAIT VIDEO`") from None
        raise ImageReadError(f"cannot read image {path}: {exc}") from None


def _is_video(path: str | os.PathLike) -> bool:
    from engine.errors import TalklineError
    from engine.media.video_read import probe_video

    try:
        return not probe_video(path).still
    except TalklineError:
        return False


def to_rgb8(im) -> np.ndarray:
    """PIL image of any mode -> RGB uint8 array; transparency is composited over white."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if arr.max() > 255 else 255.0
        im = Image.fromarray(np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        arr = (rgba[..., :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    else:
        arr = np.asarray(im.convert("RGB"))
    h, w = arr.shape[:2]
    if max(h, w) > MAX_SIDE:
        import cv2

        s = MAX_SIDE / max(h, w)
        # (a strip thousands of pixels long and a few wide keeps at least one)
        arr = cv2.resize(arr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr)
