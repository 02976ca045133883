"""OCR for pages without a text layer and for images, offline, behind one small protocol.

Two engines, both from packages: Tesseract (Debian's ``tesseract-ocr``)
and RapidOCR (``rapidocr-onnxruntime``, whose wheel carries its ONNX models). ``auto`` takes
Tesseract when its binary is installed, else RapidOCR when it is importable, else none: a page
that needs OCR is then reported, never silently dropped. README "Formats" has both engines'
character error rates and pages/s.
"""
from __future__ import annotations

import functools
import shutil
from typing import Protocol

from rag.errors import ConfigError, LoadError, unknown_name
from rag.settings import OCR_ENGINES

OCR_DPI = 300  # Tesseract reads best at 300 dpi; a scanner's usual resolution
MAX_OCR_PIXELS = 40_000_000  # a page rendered for OCR at most (A4 at 300 dpi is 8.7 million)
INSTALL_HINT = "install tesseract-ocr (apt) or rapidocr-onnxruntime (pip)"


class OcrEngine(Protocol):
    """Reads the text of one page image (a PIL image), lines in reading order."""

    name: str

    def read(self, image) -> str: ...


def crop_margins(image, pad: int = 40):
    """The page without its blank margins (plus ``pad`` pixels): a detector that scales the page
    to a fixed size then sees the text larger, and there is less to read."""
    from PIL import Image, ImageOps

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)  # transparent means paper, not black
    grey = image.convert("L")
    box = ImageOps.invert(grey).point(lambda v: 255 if v > 64 else 0).getbbox()
    if box is None:
        return grey
    return grey.crop((max(0, box[0] - pad), max(0, box[1] - pad), min(grey.width, box[2] + pad), min(grey.height, box[3] + pad)))


class TesseractOcr:
    """Debian's ``tesseract`` binary, one process a page. Called directly rather than through
    pytesseract, which can only pass this process's whole environment: Tesseract's OpenMP threads
    made a page take 11.5 s instead of 1.2 s on 2 cores, so each call gets OMP_THREAD_LIMIT=1."""

    name = "tesseract"
    timeout_s = 120.0

    def read(self, image) -> str:
        import io
        import os
        import subprocess

        png = io.BytesIO()
        crop_margins(image).save(png, format="PNG", dpi=(OCR_DPI, OCR_DPI))
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(["tesseract", "stdin", "stdout", "-l", "eng"], input=png.getvalue(),
                                  capture_output=True, env=env, timeout=self.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LoadError(f"tesseract failed ({type(exc).__name__}: {exc})") from exc
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise LoadError(f"tesseract failed: {lines[-1] if lines else f'exit {done.returncode}'}")
        return done.stdout.decode("utf-8", errors="replace")


class RapidOcr:
    name = "rapidocr"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self._engine = RapidOCR()

    def read(self, image) -> str:
        import numpy as np

        result, _ = self._engine(np.asarray(crop_margins(image).convert("RGB")))
        return "\n".join(_reading_order(result or []))


def _reading_order(boxes: list) -> list[str]:
    """RapidOCR's text boxes (corner points, text, score) as lines, top to bottom, left to right.

    Boxes whose vertical middles lie within half a box height of each other are one line.
    """
    items = []
    for points, text, _score in boxes:
        ys = [p[1] for p in points]
        items.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(p[0] for p in points), text))
    items.sort()
    lines: list[list] = []
    for mid, height, x, text in items:
        if lines and abs(mid - lines[-1][0]) <= max(height, lines[-1][1]) / 2:
            lines[-1][2].append((x, text))
        else:
            lines.append([mid, height, [(x, text)]])
    return [" ".join(t for _, t in sorted(words)) for _, _, words in lines]


def _tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def _rapidocr_available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def installed_engines() -> tuple[str, ...]:
    """The OCR engines this machine has, in the order ``auto`` prefers them."""
    return tuple(n for n, ok in (("tesseract", _tesseract_available()), ("rapidocr", _rapidocr_available())) if ok)


@functools.lru_cache(maxsize=None)
def engine(name: str = "auto") -> OcrEngine | None:
    """The OCR engine ``name`` (one of ``OCR_ENGINES``), or None when none is to be had."""
    if name not in OCR_ENGINES:
        raise unknown_name("OCR engine", name, list(OCR_ENGINES))
    if name == "none":
        return None
    have = installed_engines()
    if name == "auto":
        if not have:
            return None
        name = have[0]
    if name not in have:
        raise ConfigError(f"OCR engine {name!r} is not installed; {INSTALL_HINT}")
    return TesseractOcr() if name == "tesseract" else RapidOcr()
