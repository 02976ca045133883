"""Uploaded files into the corpus folder: allowed types, size limit, safe names, no silent overwrites."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import suffixes
from rag.errors import InputError

ALLOWED_SUFFIXES = suffixes()  # every format ingestion reads
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_NAME_BYTES = 120  # well under the 255-byte limit of common file systems, room for "-NN"
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def sanitize_filename(name: str) -> str:
    """A safe file name for ``name``: no folders, no hidden or control characters, bounded length.

    Letters and digits of any script are kept; everything else becomes ``_``. The suffix is
    lower-cased. Raises InputError when nothing usable is left of the suffix.
    """
    # NFKC first: fullwidth solidus and friends turn into "/" and are then split off like any separator.
    name = unicodedata.normalize("NFKC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]
    chars = []
    for ch in name:
        cat = unicodedata.category(ch)
        if cat[0] in "LN" or ch in "-_.":
            chars.append(ch)
        elif cat[0] == "C":  # control, format (bidi overrides, zero-width), unassigned
            continue
        else:
            chars.append("_")
    name = "".join(chars)
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix.lower()
    stem = re.sub(r"[._\-]*\.[._\-]*", ".", stem)  # no "..", no stray dots around dots
    stem = re.sub(r"_+", "_", stem).strip("._- ")
    if not stem or stem.upper() in _RESERVED:
        stem = f"document_{stem}" if stem else "document"
    limit = MAX_NAME_BYTES - len(suffix) - 1
    while len(stem.encode("utf-8")) > limit:
        stem = stem[:-1]
    stem = stem.rstrip("._- ") or "document"
    return f"{stem}.{suffix}" if suffix else stem


def check_upload(path: Path, display_name: str, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
    """Raise InputError when the uploaded file has a type ragbot does not take or is too large."""
    suffix = Path(sanitize_filename(display_name)).suffix
    if suffix not in ALLOWED_SUFFIXES:
        raise InputError(
            f"{display_name}: file type {suffix or '(none)'} is not supported; upload {', '.join(ALLOWED_SUFFIXES)}"
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{display_name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB upload limit")
    if size == 0:
        raise InputError(f"{display_name}: the file is empty")


@dataclass(frozen=True)
class Stored:
    """Where an upload went: ``status`` is "added", "unchanged" (same bytes already there) or "replaced"."""

    path: Path
    name: str
    status: str
    requested: str = ""  # the sanitised name asked for; differs from ``name`` when renamed


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def store_upload(src: Path, display_name: str, corpus_dir: str | Path, *, replace: bool = False,
                 max_bytes: int = MAX_UPLOAD_BYTES) -> Stored:
    """Copy an uploaded file into ``corpus_dir`` under a sanitised name.

    Same name and same bytes: nothing is written. Same name, other bytes: a free name
    ``stem-2.ext``, ``stem-3.ext``, ... is used, unless ``replace`` is set.
    """
    src = Path(src)
    check_upload(src, display_name, max_bytes)
    root = Path(corpus_dir)
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    name = sanitize_filename(display_name)
    stem, suffix = Path(name).stem, Path(name).suffix
    digest = _sha256(src)
    for i in range(1, 1000):
        candidate = name if i == 1 else f"{stem}-{i}{suffix}"
        dest = root / candidate
        if dest.parent != root:  # cannot happen after sanitising; a second lock on the door
            raise InputError(f"{display_name}: not a valid file name")
        if os.path.lexists(dest):
            if dest.is_file() and not dest.is_symlink() and _sha256(dest) == digest:
                return Stored(dest, candidate, "unchanged", name)
            if replace and i == 1 and dest.is_file() and not dest.is_symlink():
                tmp = root / f".{candidate}.upload"
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest)
                return Stored(dest, candidate, "replaced", name)
            continue
        try:
            with dest.open("xb") as out, src.open("rb") as inp:  # "x": never clobber a file made meanwhile
                shutil.copyfileobj(inp, out)
        except FileExistsError:
            continue
        return Stored(dest, candidate, "added", name)
    raise InputError(f"{display_name}: too many files with this name in the corpus folder")
