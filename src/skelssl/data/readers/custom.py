"""``custom``: bring your own skeleton data (format documented in ``docs/own-data.md``).

A dataset directory holds

* ``dataset.json``: ``{"layout": "ntu25" | {inline layout}, "num_classes": int,
  "class_names": [...], "array_order": "NMTVC" | "NCTVM"}``;
* ``samples.csv`` or ``samples.json``: one record per sample with
  ``sample_id``, ``label`` and optionally ``subject``, ``view``, ``setup``,
  ``replication`` and ``split_<protocol>`` columns (``train`` / ``test`` /
  empty);
* the skeletons, either ``skeletons/<sample_id>.npy`` shaped ``(T, V, C)`` or
  ``(M, T, V, C)``, or a single ``skeletons.npy`` shaped ``(N, M, T, V, C)``
  (or ``(N, C, T, V, M)`` with ``"array_order": "NCTVM"``) whose row ``i``
  is the table's record ``i``. In the single-array form, trailing frames that
  are zero for every body are padding and are dropped.

Arrays are always loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skelssl.data.files import load_npy, read_json_file, read_text_file
from skelssl.data.layouts import SkeletonLayout, get_layout, layout_from_spec, register_or_reuse
from skelssl.data.readers.base import DatasetReader, Split, register_reader
from skelssl.data.types import UNITS, RawSequence, SkeletonFileError, check_finite, to_metres

__all__ = ["CustomReader", "load_layout_spec", "ARRAY_ORDERS"]

ARRAY_ORDERS = ("NMTVC", "NCTVM")
DATASET_KEYS = ("layout", "num_classes", "class_names", "array_order", "units", "description")
META_INT_COLUMNS = ("subject", "view", "setup", "replication")
SPLIT_PREFIX = "split_"
SPLIT_VALUES = ("train", "test", "")
# Separates the array path from the row number in single-array work items.
ROW_SEP = "::"


def load_layout_spec(spec: str | dict, source: str | Path = "dataset.json") -> SkeletonLayout:
    """Resolve a layout name, or build and register an inline layout definition.

    Registering is idempotent: an inline layout identical to an already
    registered one of the same name reuses it; a different definition under a
    taken name is an error.
    """
    if isinstance(spec, str):
        try:
            return get_layout(spec)
        except KeyError as err:
            raise SkeletonFileError(source, str(err.args[0]), reason="malformed") from None
    if not isinstance(spec, dict):
        raise SkeletonFileError(source, "'layout' must be a layout name or an object", reason="malformed")
    try:
        return register_or_reuse(layout_from_spec(spec))
    except (TypeError, ValueError) as err:
        raise SkeletonFileError(source, f"inline layout is invalid: {err}", reason="malformed") from None


@dataclass
class _Record:
    sample_id: str
    label: int
    ints: dict[str, int]
    splits: dict[str, str]
    where: str  # "samples.csv line 7" / "samples.json record 3", for messages


@dataclass
class _Dataset:
    root: Path
    table: Path
    records: list[_Record]
    row_of: dict[str, int]
    layout: SkeletonLayout
    num_classes: int | None
    class_names: tuple[str, ...]
    array_order: str
    array_path: Path | None
    protocols: tuple[str, ...]
    units: str | None = None
    _array: np.ndarray | None = field(default=None, repr=False)

    def array(self) -> np.ndarray:
        if self._array is None:
            assert self.array_path is not None
            self._array = _load_npy(self.array_path, mmap=True)
        return self._array


def _load_npy(path: Path, *, mmap: bool = False, where: str = "") -> np.ndarray:
    label = f"{path}{f' ({where})' if where else ''}"
    if not path.is_file():
        raise SkeletonFileError(label, "skeleton file named in the table does not exist", reason="missing")
    array = load_npy(path, mmap=mmap, label=label)
    if not isinstance(array, np.ndarray):
        raise SkeletonFileError(label, "expected a .npy array, got an archive", reason="malformed")
    if array.dtype.kind not in "biuf":
        raise SkeletonFileError(label, f"array dtype {array.dtype} is not numeric", reason="malformed")
    return array


def _read_table(root: Path) -> tuple[Path, list[tuple[dict, str]]]:
    csv_path, json_path = root / "samples.csv", root / "samples.json"
    if csv_path.is_file() and json_path.is_file():
        raise SkeletonFileError(root, "both samples.csv and samples.json exist; keep one", reason="malformed")
    if csv_path.is_file():
        reader = csv.DictReader(io.StringIO(read_text_file(csv_path), newline=""))
        try:
            if reader.fieldnames is None:
                raise SkeletonFileError(csv_path, "no header row", reason="empty")
            reader.fieldnames = [n.strip() for n in reader.fieldnames]
            rows = [(dict(r), f"{csv_path.name} line {reader.line_num}") for r in reader]
        except csv.Error as err:
            raise SkeletonFileError(csv_path, f"line {reader.line_num}: not valid CSV ({err})",
                                    reason="malformed") from None
        return csv_path, rows
    if json_path.is_file():
        records = read_json_file(json_path)
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SkeletonFileError(json_path, "must be a list of records (objects)", reason="malformed")
        return json_path, [(r, f"{json_path.name} record {i}") for i, r in enumerate(records)]
    raise FileNotFoundError(f"no samples.csv or samples.json in {root}")


def _cell(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _int_cell(table: Path, where: str, column: str, value: Any) -> int:
    text = _cell(value)
    if text == "":
        return -1
    try:
        return int(text)
    except ValueError:
        raise SkeletonFileError(table, f"{where}: column {column!r} must be an integer, got {text!r}",
                                reason="malformed") from None


def _load_dataset(root: Path) -> _Dataset:
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"no dataset.json in {root} (it declares the layout; see docs/own-data.md)")
    meta = read_json_file(meta_path)
    if not isinstance(meta, dict) or "layout" not in meta:
        raise SkeletonFileError(meta_path, "must be an object with a 'layout' entry", reason="malformed")
    unknown = sorted(set(meta) - set(DATASET_KEYS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], DATASET_KEYS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SkeletonFileError(meta_path, f"unknown key {unknown[0]!r}{hint}; keys: {', '.join(DATASET_KEYS)}",
                                reason="malformed")
    layout = load_layout_spec(meta["layout"], meta_path)
    names = meta.get("class_names") or []
    if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
        raise SkeletonFileError(meta_path, "class_names must be a list of strings", reason="malformed")
    class_names = tuple(names)
    num_classes = meta.get("num_classes")
    if num_classes is not None and (not isinstance(num_classes, int) or isinstance(num_classes, bool)
                                    or num_classes < 1):
        raise SkeletonFileError(meta_path, f"num_classes must be a positive integer, got {num_classes!r}",
                                reason="malformed")
    num_classes = num_classes if num_classes is not None else (len(class_names) or None)
    units = meta.get("units")
    if units is not None and units not in UNITS:
        raise SkeletonFileError(meta_path, f"units must be one of {', '.join(UNITS)}, got {units!r}",
                                reason="malformed")
    if class_names and num_classes != len(class_names):
        raise SkeletonFileError(meta_path, f"num_classes {num_classes} but {len(class_names)} class_names",
                                reason="malformed")
    order = str(meta.get("array_order", "NMTVC")).upper()  # any value: str() then the check below
    if order not in ARRAY_ORDERS:
        raise SkeletonFileError(meta_path, f"array_order must be one of {ARRAY_ORDERS}, got {order!r}",
                                reason="malformed")

    table, raw_rows = _read_table(root)
    if not raw_rows:
        raise SkeletonFileError(table, "the sample table has no records", reason="empty")
    columns = {c for r, _ in raw_rows for c in r if isinstance(c, str)}
    for required in ("sample_id", "label"):
        if required not in columns:
            raise SkeletonFileError(table, f"missing required column {required!r}", reason="malformed")
    protocols = tuple(sorted(c[len(SPLIT_PREFIX):] for c in columns if c.startswith(SPLIT_PREFIX)))
    class_index = {name: i for i, name in enumerate(class_names)}

    records: list[_Record] = []
    row_of: dict[str, int] = {}
    for raw, where in raw_rows:
        sid = _cell(raw.get("sample_id"))
        if not sid or sid in (".", "..") or any(ch in sid for ch in "/\\") or ROW_SEP in sid:
            raise SkeletonFileError(table, f"{where}: sample_id {sid!r} is empty or not usable as a file name",
                                    reason="malformed")
        if sid in row_of:
            raise SkeletonFileError(table, f"{where}: duplicate sample_id {sid!r}", reason="malformed")
        if None in raw:
            raise SkeletonFileError(table, f"{where}: more fields than header columns", reason="malformed")
        label_text = _cell(raw.get("label"))
        try:
            label = int(label_text) if label_text else -1
        except ValueError:
            if label_text not in class_index:
                raise SkeletonFileError(table, f"{where}: label {label_text!r} is neither an integer nor one of "
                                        "class_names", reason="bad_label") from None
            label = class_index[label_text]
        if label < -1 or (num_classes is not None and label >= num_classes):
            raise SkeletonFileError(table, f"{where}: label {label_text!r} outside 0..{(num_classes or 0) - 1} "
                                    "(-1 or empty = unlabelled)", reason="bad_label")
        ints = {c: _int_cell(table, where, c, raw.get(c)) for c in META_INT_COLUMNS}
        splits = {}
        for p in protocols:
            value = _cell(raw.get(SPLIT_PREFIX + p)).lower()
            if value not in SPLIT_VALUES:
                raise SkeletonFileError(table, f"{where}: {SPLIT_PREFIX}{p} must be 'train', 'test' or empty, "
                                        f"got {value!r}", reason="malformed")
            splits[p] = value
        row_of[sid] = len(records)
        records.append(_Record(sid, label, ints, splits, where))

    array_path = root / "skeletons.npy"
    has_array, has_dir = array_path.is_file(), (root / "skeletons").is_dir()
    if has_array and has_dir:
        raise SkeletonFileError(root, "both skeletons.npy and skeletons/ exist; keep one", reason="malformed")
    if not (has_array or has_dir):
        raise FileNotFoundError(f"no skeletons/ folder or skeletons.npy in {root}")
    ds = _Dataset(root, table, records, row_of, layout, num_classes, class_names, order,
                  array_path if has_array else None, protocols, units)
    if has_array:
        array = ds.array()
        if array.ndim != 5:
            raise SkeletonFileError(array_path, f"expected a 5-D array in {order} order, got shape {array.shape}",
                                    reason="bad_shape")
        if array.shape[0] != len(records):
            raise SkeletonFileError(array_path, f"{array.shape[0]} samples in the array but {len(records)} records "
                                    f"in {table.name}", reason="bad_shape")
    return ds


def _to_metres(where: str, joints: np.ndarray, ds: _Dataset) -> np.ndarray:
    """x, y, z in metres by the declared units; undeclared 3D data must look like metres (2D is left alone)."""
    axes = tuple(i for i, c in enumerate(ds.layout.channels) if c in ("x", "y", "z"))
    if not axes or (ds.units is None and "z" not in ds.layout.channels):
        return joints  # 2D keypoints are in the pose estimator's own units (pixels or normalised)
    return to_metres(where, joints, ds.units, axes, hint='set "units": "mm" (or "cm") in dataset.json')


@register_reader("custom")
class CustomReader(DatasetReader):
    """Reads a dataset directory in the documented "own data" format."""

    layout = "ntu25"
    default_recipe = "crossclr"
    num_classes: int | None = None
    expected_files = ("dataset.json, samples.csv (or samples.json) and skeletons/<sample_id>.npy (or skeletons.npy) "
                      "directly in --raw; see docs/own-data.md")

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._datasets: dict[Path, _Dataset] = {}

    def _dataset(self, root: Path) -> _Dataset:
        root = Path(root)
        if root not in self._datasets:
            ds = _load_dataset(root)
            self._datasets[root] = ds
            # Instance attributes, so that each dataset's reader reports its own.
            self.layout = ds.layout.name
            self.class_names = ds.class_names
            self.num_classes = ds.num_classes
        return self._datasets[root]

    def discover(self, raw_dir: Path) -> list[str]:
        raw_dir = Path(raw_dir)
        if not raw_dir.is_dir():
            raise FileNotFoundError(f"raw data directory not found: {raw_dir}")
        ds = self._dataset(raw_dir)
        if ds.array_path is not None:
            return [f"{ds.array_path}{ROW_SEP}{i}" for i in range(len(ds.records))]
        return [str(raw_dir / "skeletons" / f"{r.sample_id}.npy") for r in ds.records]

    def read(self, item: str) -> list[RawSequence]:
        path_text, sep, row_text = item.rpartition(ROW_SEP)
        if sep:
            path = Path(path_text)
            ds = self._dataset(path.parent)
            row = int(row_text)
            rec = ds.records[row]
            where = f"{path} [row {row}: {rec.sample_id}, {rec.where}]"
            sample = np.asarray(ds.array()[row])
            if ds.array_order == "NCTVM":
                sample = sample.transpose(3, 1, 2, 0)
            # Rows of a single array are zero-padded to a common length.
            used = np.flatnonzero(sample.any(axis=(0, 2, 3)))
            sample = sample[:, : used[-1] + 1] if used.size else sample[:, :0]
        else:
            path = Path(item)
            ds = self._dataset(path.parent.parent)
            if path.stem not in ds.row_of:
                raise SkeletonFileError(path, f"no record with sample_id {path.stem!r} in {ds.table.name}",
                                        reason="bad_name")
            rec = ds.records[ds.row_of[path.stem]]
            where = f"{path} [{rec.where}]"
            sample = _load_npy(path, where=rec.where)
            if sample.ndim == 3:
                sample = sample[None]
            elif sample.ndim != 4:
                raise SkeletonFileError(where, f"expected (T, V, C) or (M, T, V, C), got shape {sample.shape}",
                                        reason="bad_shape")
        m, t, v, c = sample.shape
        if v != ds.layout.num_joints:
            raise SkeletonFileError(where, f"{v} joints but layout {ds.layout.name!r} has {ds.layout.num_joints} "
                                    f"(shape {sample.shape})", reason="wrong_joint_count")
        if c != ds.layout.num_channels:
            raise SkeletonFileError(where, f"{c} channels but layout {ds.layout.name!r} has "
                                    f"{ds.layout.num_channels} {ds.layout.channels} (shape {sample.shape})",
                                    reason="wrong_channel_count")
        if m == 0 or t == 0:
            raise SkeletonFileError(where, f"zero-length sequence (shape {sample.shape})", reason="empty")
        with np.errstate(over="ignore", invalid="ignore"):  # beyond float32 becomes inf: reported just below
            joints = np.ascontiguousarray(sample, dtype=np.float32)
        check_finite(where, joints)
        joints = _to_metres(where, joints, ds)
        present = joints.any(axis=(2, 3))
        if not present.any():
            raise SkeletonFileError(where, "every value is zero (no body in any frame)", reason="empty")
        return [
            RawSequence(
                sample_id=rec.sample_id,
                joints=joints,
                present=present,
                label=rec.label,
                layout=ds.layout.name,
                source=str(path),
                **rec.ints,
            )
        ]

    def protocols(self, meta: dict[str, np.ndarray], raw_dir: Path | None) -> dict[str, Split]:
        if raw_dir is not None:
            ds = self._dataset(Path(raw_dir))
        elif len(self._datasets) == 1:
            ds = next(iter(self._datasets.values()))
        else:
            raise ValueError("the custom reader needs raw_dir to read the split_<protocol> columns")
        ids = [str(s) for s in meta["sample_id"]]
        idx = np.arange(len(ids))
        out: dict[str, Split] = {}
        for p in ds.protocols:
            values = np.array([ds.records[ds.row_of[s]].splits[p] if s in ds.row_of else "" for s in ids], dtype="U5")
            out[p] = {"train": idx[values == "train"], "test": idx[values == "test"]}
        return out
