"""``skelssl prepare``: raw dataset files -> the canonical on-disk format.

Items are processed in chunks by a process pool (all cores by default). Each
finished chunk is written to ``<out>/.partial/`` atomically, so an interrupted
run resumes where it stopped; the final arrays are assembled only when every
chunk is done. Unreadable inputs either stop the run with the reader's error
(``on_error="raise"``, the default) or are skipped and counted with their
reason (``on_error="skip"``) — never zero-filled. A sample with no body in any
frame is such an input (reason ``empty``) whatever the reader. Parts of an item
that a dataset's documented policy leaves out (``ReadResult.dropped``) and
files a reader leaves out on purpose (``skipped_items``) are counted as skips
in every mode.

Everything that can be checked up front is, before anything is written: the
reader's and recipe's options, the raw listing (nothing found names what was
expected) and the layout roles the recipe needs. Every worker's reader is
bound to the raw directory, so no reader looks for files outside it.

A resumed run keeps its own ``on_error``: chunks that an interrupted skip run
finished with skips are redone when the new run is ``raise``. When every sample
is skipped, ``summary.json`` is still written and :class:`AllSkippedError`
(a ``ValueError``) carries the summary.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from skelssl import __version__
from skelssl.data.canonical import (
    FORMAT_VERSION,
    atomic_write_text,
    read_meta,
    write_index_file,
    write_meta,
)
from skelssl.data.layouts import get_layout
from skelssl.data.readers import DatasetReader, get_reader
from skelssl.data.recipes import Recipe, get_recipe
from skelssl.data.types import SkeletonFileError

__all__ = ["prepare_dataset", "PrepareSummary", "AllSkippedError", "ON_ERROR"]

ON_ERROR = ("raise", "skip")


@dataclass
class PrepareSummary:
    dataset: str
    out_dir: str
    recipe: str
    items: int = 0
    samples_kept: int = 0
    skipped: list[dict] = field(default_factory=list)
    single_frame: int = 0
    resumed_chunks: int = 0
    seconds: float = 0.0
    on_error: str = "raise"

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(s["reason"] for s in self.skipped))

    @property
    def samples_read(self) -> int:
        return self.samples_kept + sum(1 for s in self.skipped if s.get("stage") != "listed")

    def to_json(self) -> dict:
        d = asdict(self)
        d["skipped_by_reason"] = self.skipped_by_reason
        d["samples_read"] = self.samples_read
        return d


class AllSkippedError(ValueError):
    """Every sample was skipped: nothing to write. ``summary`` says why (also in ``summary.json``)."""

    def __init__(self, summary: PrepareSummary) -> None:
        self.summary = summary
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(summary.skipped_by_reason.items()))
        super().__init__(
            f"{summary.dataset}: every one of the {len(summary.skipped)} samples was skipped ({reasons}); "
            f"nothing to write; each skip is listed in {Path(summary.out_dir) / 'summary.json'}"
        )


@dataclass(frozen=True)
class _ChunkTask:
    index: int
    items: tuple[str, ...]
    dataset: str
    reader_options: dict
    recipe: str
    recipe_options: dict
    on_error: str
    partial_dir: str
    segmentation: bool
    raw_dir: str | None


_CACHE: dict[str, tuple[DatasetReader, Recipe]] = {}


def _tools(task: _ChunkTask) -> tuple[DatasetReader, Recipe]:
    # Worker processes keep one reader and recipe instead of rebuilding them per chunk.
    key = json.dumps([task.dataset, task.reader_options, task.recipe, task.recipe_options, task.raw_dir],
                     sort_keys=True)
    if key not in _CACHE:
        reader = get_reader(task.dataset, **task.reader_options)
        # A fresh reader never ran discover(); binding tells it where the release lies.
        reader.bind(task.raw_dir)
        _CACHE[key] = (reader, get_recipe(task.recipe, **task.recipe_options))
    return _CACHE[key]


# Stages of a skip: "listed" (left out by the reader's listing) and "policy" (a dataset rule)
# are counted in every mode; "read" and "recipe" skips exist only under on_error="skip".
_ERROR_STAGES = ("read", "recipe")


def _skip(item: str, err: SkeletonFileError, stage: str) -> dict:
    return {"item": item, "file": err.path, "reason": err.reason, "message": str(err), "stage": stage}


def _check_has_body(item: str, seq) -> None:
    if not np.asarray(seq.present).any():
        raise SkeletonFileError(seq.source or item, f"sample {seq.sample_id}: no body in any frame", reason="empty")


def _process_chunk(task: _ChunkTask) -> dict:
    reader, recipe = _tools(task)
    arrays: list[np.ndarray] = []
    rows: list[dict] = []
    skips: list[dict] = []
    untrimmed: list[tuple[str, np.ndarray, np.ndarray]] = []
    single = 0
    for item in task.items:
        try:
            result = reader.read_item(item, untrimmed=task.segmentation)
        except SkeletonFileError as err:
            if task.on_error == "raise":
                raise
            skips.append(_skip(item, err, "read"))
            continue
        skips.extend(_skip(item, dropped, "policy") for dropped in result.dropped)
        for seq in result.sequences:
            try:
                _check_has_body(item, seq)
                out = recipe(seq)
            except SkeletonFileError as err:
                if task.on_error == "raise":
                    raise
                skips.append(_skip(item, err, "recipe"))
                continue
            single += seq.num_frames == 1
            arrays.append(out.data)
            rows.append({**seq.meta(), "frames": out.valid_frames})
        video = result.untrimmed
        if video is not None and video.frame_labels is not None:
            m = recipe.num_bodies
            joints = np.zeros((m, *video.joints.shape[1:]), np.float32)
            joints[: min(m, video.joints.shape[0])] = video.joints[:m]
            # (S, T, V, C) -> (T, C, V, M): frames first so videos concatenate.
            untrimmed.append((video.sample_id, joints.transpose(1, 3, 2, 0), video.frame_labels))

    partial = Path(task.partial_dir)
    stem = f"chunk_{task.index:06d}"
    if arrays:
        np.save(partial / f"{stem}.npy.tmp.npy", np.stack(arrays))
        os.replace(partial / f"{stem}.npy.tmp.npy", partial / f"{stem}.npy")
    if untrimmed:
        np.save(partial / f"{stem}_video.tmp.npy", np.concatenate([u[1] for u in untrimmed]))
        os.replace(partial / f"{stem}_video.tmp.npy", partial / f"{stem}_video.npy")
        np.save(partial / f"{stem}_frames.tmp.npy", np.concatenate([u[2] for u in untrimmed]).astype(np.int16))
        os.replace(partial / f"{stem}_frames.tmp.npy", partial / f"{stem}_frames.npy")
    record = {
        "index": task.index,
        "items": len(task.items),
        "rows": rows,
        "skips": skips,
        "single_frame": int(single),
        "videos": [[vid, int(arr.shape[0])] for vid, arr, _ in untrimmed],
        "on_error": task.on_error,
    }
    # The JSON is written last: its presence marks the chunk as complete.
    atomic_write_text(partial / f"{stem}.json", json.dumps(record))
    return record


def _plan_key(dataset: str, items: list[str], reader_options: dict, recipe: Recipe, chunk_size: int) -> str:
    digest = hashlib.sha256("\n".join(items).encode()).hexdigest()
    plan = [dataset, reader_options, recipe.describe(), chunk_size, len(items), digest]
    return json.dumps(plan, sort_keys=True)


def prepare_dataset(
    dataset: str,
    out_dir: str | Path,
    raw_dir: str | Path | None = None,
    recipe: str | None = None,
    *,
    on_error: str = "raise",
    workers: int | None = None,
    chunk_size: int = 64,
    resume: bool = True,
    overwrite: bool = False,
    reader_options: dict | None = None,
    recipe_options: dict | None = None,
    progress: bool = True,
) -> PrepareSummary:
    """Read a raw dataset, apply a recipe and write the canonical format to ``out_dir``."""
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
    started = time.perf_counter()
    reader_options = dict(reader_options or {})
    recipe_options = dict(recipe_options or {})
    # Unknown or misspelled options fail here, before anything is read or written.
    reader = get_reader(dataset, **reader_options)
    recipe_name = recipe or reader.default_recipe
    recipe_obj = get_recipe(recipe_name, **recipe_options)
    raw = Path(raw_dir) if raw_dir is not None else None
    out = Path(out_dir)
    if (out / "info.json").exists() and not overwrite:
        raise FileExistsError(f"{out} already holds a prepared dataset; pass --overwrite to replace it "
                              f"(overwrite=True from Python), or choose another --out")
    if raw is None and reader.needs_raw:
        raise ValueError(f"prepare {dataset} needs --raw DIR: the folder holding the {reader.expected_files}")

    reader.bind(raw)
    items = reader.discover(raw if raw is not None else Path("."))
    listed_skips = [
        {"item": name, "file": name, "reason": reason, "message": f"{name}: {reason}", "stage": "listed"}
        for name, reason in reader.skipped_items(raw).items()
    ]
    if not items:
        raise FileNotFoundError(f"{raw}: no {dataset} files found (expected {reader.expected_files})")
    layout = get_layout(reader.layout)
    recipe_obj.check_layout(layout)

    if (out / "info.json").exists():
        for name in ("info.json", "data.npy", "meta.csv", "summary.json"):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "splits", ignore_errors=True)
        shutil.rmtree(out / "untrimmed", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    partial = out / ".partial"
    plan = _plan_key(dataset, items, reader_options, recipe_obj, chunk_size)
    plan_path = partial / "plan.json"
    if partial.exists() and (not resume or not plan_path.exists() or plan_path.read_text() != plan):
        if resume and plan_path.exists():
            print(f"note: {partial} was made with other settings; starting afresh")
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    atomic_write_text(plan_path, plan)

    segmentation = bool(reader.segmentation)
    chunks = [tuple(items[i : i + chunk_size]) for i in range(0, len(items), chunk_size)]
    raw_text = str(raw) if raw is not None else None
    tasks = [
        _ChunkTask(i, chunk, dataset, reader_options, recipe_name, recipe_options, on_error, str(partial),
                   segmentation, raw_text)
        for i, chunk in enumerate(chunks)
    ]
    records = _resumable_records(partial, tasks, on_error)
    summary = PrepareSummary(dataset=dataset, out_dir=str(out), recipe=recipe_name, resumed_chunks=len(records),
                             on_error=on_error)
    todo = [t for t in tasks if t.index not in records]
    done_items = sum(r["items"] for r in records.values())
    _run_tasks(todo, records, workers, progress, total_items=len(items), done_items=done_items)

    summary.items = len(items)
    summary.skipped = listed_skips + [s for i in range(len(tasks)) for s in records[i]["skips"]]
    summary.single_frame = sum(r["single_frame"] for r in records.values())
    if not any(records[t.index]["rows"] for t in tasks):
        summary.seconds = round(time.perf_counter() - started, 3)
        atomic_write_text(out / "summary.json", json.dumps(summary.to_json(), indent=1))
        shutil.rmtree(partial)
        raise AllSkippedError(summary)
    _assemble(out, partial, tasks, records, reader, recipe_obj, raw, summary, segmentation)
    summary.seconds = round(time.perf_counter() - started, 3)
    atomic_write_text(out / "summary.json", json.dumps(summary.to_json(), indent=1))
    info = json.loads((out / "info.json").read_text())
    info["summary"] = {k: v for k, v in summary.to_json().items() if k != "skipped"}
    atomic_write_text(out / "info.json", json.dumps(info, indent=1))
    shutil.rmtree(partial)
    return summary


def _resumable_records(partial: Path, tasks: list[_ChunkTask], on_error: str) -> dict[int, dict]:
    """Chunks an interrupted run finished that this run may reuse.

    Under ``on_error="raise"`` a chunk that skipped an unreadable input is
    redone, so the earlier skip run's skips are not silently inherited (if the
    input is still bad, the run stops on it as a fresh run would).
    """
    records: dict[int, dict] = {}
    for task in tasks:
        done = partial / f"chunk_{task.index:06d}.json"
        if not done.exists():
            continue
        try:
            record = json.loads(done.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue  # damaged by hand: redo the chunk
        if on_error == "raise" and any(s.get("stage") in _ERROR_STAGES for s in record["skips"]):
            continue
        records[task.index] = record
    return records


def _run_tasks(todo: list[_ChunkTask], records: dict, workers: int | None, progress: bool, total_items: int, done_items: int) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    workers = workers or os.cpu_count() or 1
    columns = (TextColumn("[bold]preparing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, disable=not progress, transient=False) as bar:
        job = bar.add_task("items", total=total_items, completed=done_items)
        if workers <= 1 or len(todo) <= 1:
            for task in todo:
                records[task.index] = _process_chunk(task)
                bar.advance(job, len(task.items))
            return
        with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            pending = {pool.submit(_process_chunk, t) for t in todo}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in finished:
                    if fut.exception() is not None:
                        for other in pending:
                            other.cancel()
                        raise fut.exception()
                    record = fut.result()
                    records[record["index"]] = record
                    bar.advance(job, record["items"])


def _assemble(out: Path, partial: Path, tasks, records, reader: DatasetReader, recipe: Recipe, raw, summary, segmentation) -> None:
    from numpy.lib.format import open_memmap

    rows = [row for t in tasks for row in records[t.index]["rows"]]
    layout = get_layout(reader.layout)
    first = next(partial / f"chunk_{t.index:06d}.npy" for t in tasks if records[t.index]["rows"])
    sample_shape = np.load(first, mmap_mode="r").shape[1:]
    tmp = out / "data.npy.tmp"
    data = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(rows), *sample_shape))
    pos = 0
    for t in tasks:
        if records[t.index]["rows"]:
            chunk = np.load(partial / f"chunk_{t.index:06d}.npy", allow_pickle=False)
            data[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
    data.flush()
    del data
    os.replace(tmp, out / "data.npy")
    write_meta(out / "meta.csv", rows)
    summary.samples_kept = len(rows)

    meta = read_meta(out / "meta.csv")
    protocols = reader.protocols(meta, raw)
    for name, parts in protocols.items():
        for part, idx in parts.items():
            write_index_file(out / "splits" / f"{name}_{part}.txt", idx, {"protocol": name, "part": part, "samples": len(idx)})

    if segmentation:
        _assemble_untrimmed(out, partial, tasks, records)

    labels = meta["label"]
    num_classes = reader.num_classes or len(reader.class_names) or int(labels.max()) + 1
    info = {
        "format_version": FORMAT_VERSION,
        "dataset": summary.dataset,
        "layout": layout.name,
        # The whole definition, so that a layout declared inline travels with the data.
        "layout_spec": layout.to_dict(),
        "channels": list(layout.channels),
        "shape": [len(rows), *map(int, sample_shape)],
        "axes": "NCTVM",
        "recipe": recipe.describe(),
        "reader_options": dict(reader.options),
        "num_classes": num_classes,
        "class_names": list(reader.class_names),
        "class_counts": np.bincount(labels[labels >= 0], minlength=num_classes).tolist(),
        "protocols": {name: sorted(parts) for name, parts in protocols.items()},
        "raw_dir": str(raw) if raw is not None else None,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "skelssl_version": __version__,
    }
    atomic_write_text(out / "info.json", json.dumps(info, indent=1))


def _assemble_untrimmed(out: Path, partial: Path, tasks, records) -> None:
    seg = out / "untrimmed"
    seg.mkdir(exist_ok=True)
    videos, arrays, labels = [], [], []
    offset = 0
    for t in tasks:
        for vid, length in records[t.index]["videos"]:
            videos.append(f"{vid},{offset},{length}")
            offset += length
        if records[t.index]["videos"]:
            arrays.append(np.load(partial / f"chunk_{t.index:06d}_video.npy", allow_pickle=False))
            labels.append(np.load(partial / f"chunk_{t.index:06d}_frames.npy", allow_pickle=False))
    if not videos:
        return
    np.save(seg / "sequences.npy", np.concatenate(arrays))
    np.save(seg / "frame_labels.npy", np.concatenate(labels))
    atomic_write_text(seg / "videos.csv", "video_id,offset,length\n" + "\n".join(videos) + "\n")
