"""Camera frames from an episode dataset: raw (T, H, W, 3) uint8, or ALOHA's JPEG buffers.

The ALOHA recorder (aloha_scripts/record_episodes.py with COMPRESS) stores each frame as
`cv2.imencode('.jpg', frame)` zero-padded to the episode's longest buffer, (T, padded) uint8, root
attribute `compress` true and a root dataset `compress_len` (cameras, T) of the real lengths; its
training code decodes with `cv2.imdecode`. A JPEG decoder stops at the end-of-image marker, so the
padding is harmless and the buffer is decoded whole (the row order of `compress_len` follows the
recorder's camera list, which the file does not store). Decoding uses OpenCV when it imports (the
recorder's own decoder), else Pillow with the channels reversed: cv2 encodes channel 0 as blue, so
Pillow's RGB output is cv2's channel order reversed. Neither: compressed files are refused.
"""

from __future__ import annotations

import io
from typing import Any, Callable

import numpy as np

from .episode import EpisodeError

NO_DECODER = ("JPEG-compressed frames (root attribute compress) need a JPEG decoder: pip install pillow "
              "(or opencv-python)")


def jpeg_decoder() -> Callable[[np.ndarray], np.ndarray] | None:
    """A function: 1-D uint8 JPEG buffer -> (H, W, 3) uint8 in cv2.imdecode's channel order; None if none imports."""
    try:
        import cv2

        def decode_cv2(buf: np.ndarray) -> np.ndarray:
            img = cv2.imdecode(np.ascontiguousarray(buf, dtype=np.uint8), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError("not a JPEG image")
            return img

        return decode_cv2
    except ImportError:
        pass
    try:
        from PIL import Image
    except ImportError:
        return None

    def decode_pil(buf: np.ndarray) -> np.ndarray:
        with Image.open(io.BytesIO(np.ascontiguousarray(buf, dtype=np.uint8).tobytes())) as im:
            if im.format != "JPEG":
                raise ValueError(f"a {im.format} image, not a JPEG")
            rgb = np.asarray(im.convert("RGB"))
        return np.ascontiguousarray(rgb[..., ::-1])

    return decode_pil


def frame_reader(dataset: Any, compressed: bool, where: str) -> Callable[[int], np.ndarray]:
    """`read(t)` -> frame t as (H, W, 3) uint8."""
    if not compressed:
        return lambda t: np.asarray(dataset[t])
    decode = jpeg_decoder()
    if decode is None:
        raise EpisodeError(f"{where}: {NO_DECODER}")

    def read(t: int) -> np.ndarray:
        try:
            return decode(np.asarray(dataset[t]))
        except Exception as exc:  # a corrupt buffer: the decoder's own exception type
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise EpisodeError(f"{where}: frame {t} does not decode as JPEG ({why})") from None

    return read
