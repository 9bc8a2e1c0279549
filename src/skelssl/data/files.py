"""Files under ``--raw`` and in prepared datasets: walking and reading with errors that name the file.

Shared by every reader and by the canonical-format loader, so that symlinks,
byte-order marks, undecodable text, unreadable paths and broken JSON are
handled once, the same way everywhere.
"""

from __future__ import annotations

import json
import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable, Iterator

from skelssl.data.types import SkeletonFileError

__all__ = ["UTF8_BOM", "walk_files", "sorted_files", "read_file_bytes", "decode_text", "read_text_file",
           "read_json_file", "one_line"]

UTF8_BOM = b"\xef\xbb\xbf"


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def walk_files(raw_dir: str | Path) -> Iterator[Path]:
    """Every file under ``raw_dir`` in a deterministic order, following directory symlinks.

    A directory reached twice (two links to it, or a link back up the tree) is
    walked once, so cycles cannot hang the walk. Broken links are listed like
    files: reading them gives an error naming them rather than a silent miss.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"raw data directory not found: {raw_dir}")
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(raw_dir, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name


def sorted_files(raw_dir: str | Path, patterns: Iterable[str]) -> list[str]:
    """Files under ``raw_dir`` (any depth, symlinks followed) whose name matches a glob pattern, sorted."""
    patterns = tuple(patterns)
    found = {p for p in walk_files(raw_dir) if any(fnmatchcase(p.name, pat) for pat in patterns)}
    return [str(p) for p in sorted(found)]


# ---------------------------------------------------------------------------
# Reading files with errors that name them


def read_file_bytes(path: str | Path) -> bytes:
    """The bytes of ``path``; any OS problem is a :class:`SkeletonFileError` (reason ``unreadable``)."""
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise SkeletonFileError(path, "is a directory, not a file", reason="unreadable") from None
    except OSError as err:
        raise SkeletonFileError(path, f"cannot read file ({err.strerror or err})", reason="unreadable") from None


def decode_text(path: str | Path, data: bytes) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark is dropped); bad bytes name their line."""
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise SkeletonFileError(
            path, f"line {line}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
            "save the file as UTF-8", reason="encoding",
        ) from None


def read_text_file(path: str | Path) -> str:
    """The UTF-8 text of ``path`` (BOM dropped), errors naming the file."""
    return decode_text(path, read_file_bytes(path))


def read_json_file(path: str | Path) -> Any:
    """The parsed JSON of ``path``; a cut-off file is ``truncated``, other syntax errors ``malformed``."""
    text = read_text_file(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        # A file cut short fails at its end, or inside a string that never closes.
        cut = err.pos >= len(text.rstrip()) or err.msg.startswith("Unterminated string")
        reason = "truncated" if cut else "malformed"
        raise SkeletonFileError(
            path, f"not valid JSON (line {err.lineno} column {err.colno}: {err.msg})", reason=reason
        ) from None
    except RecursionError:
        raise SkeletonFileError(path, "not valid JSON (nested too deeply)", reason="malformed") from None


def load_npy(path: str | Path, *, mmap: bool = False, label: str | Path | None = None) -> Any:
    """A ``.npy`` array loaded without pickle; every problem is a :class:`SkeletonFileError` naming ``label``.

    The header is checked against the file size first, so a damaged header
    that claims a huge shape fails as ``truncated`` instead of allocating it.
    Object (pickled) arrays are ``malformed``. A ``.npz`` archive is returned
    as loaded; callers check for ``np.ndarray``.
    """
    import numpy as np
    from numpy.lib import format as npy_format

    path = Path(path)
    label = label if label is not None else path
    try:
        with open(path, "rb") as f:
            try:
                version = npy_format.read_magic(f)
            except ValueError:
                version = None  # not .npy (maybe an .npz archive): np.load below decides
            if version in ((1, 0), (2, 0)):
                size_bytes = 2 if version == (1, 0) else 4
                start = f.tell()
                header_len = int.from_bytes(f.read(size_bytes), "little")
                if path.stat().st_size < start + size_bytes + header_len:
                    raise SkeletonFileError(label, "cut short inside the .npy header", reason="truncated")
                f.seek(start)
                read_header = (npy_format.read_array_header_1_0 if version == (1, 0)
                               else npy_format.read_array_header_2_0)
                try:
                    shape, _, dtype = read_header(f)
                except Exception as err:  # noqa: BLE001 - numpy's header parser (tokenize, literal_eval) has many
                    raise SkeletonFileError(label, f"damaged .npy header ({type(err).__name__}: {one_line(err)[:100]})",
                                            reason="malformed") from None
                if dtype.hasobject:
                    raise SkeletonFileError(label, "holds Python objects (a pickled array); save a numeric array",
                                            reason="malformed")
                need = int(np.prod(shape, dtype=object)) * dtype.itemsize
                have = path.stat().st_size - f.tell()
                if need > have:
                    raise SkeletonFileError(label, f"cut short: the header announces {list(shape)} {dtype} "
                                            f"({need} bytes) but the file holds {have}", reason="truncated")
        array = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except SkeletonFileError:
        raise
    except ValueError as err:
        reason = "malformed" if "pickle" in str(err) else "truncated"
        raise SkeletonFileError(label, f"cannot load .npy ({one_line(err)})", reason=reason) from None
    except (EOFError, OSError, OverflowError, SyntaxError, TypeError) as err:
        raise SkeletonFileError(label, f"cannot load .npy ({type(err).__name__}: {one_line(err)})",
                                reason="truncated") from None
    return array
