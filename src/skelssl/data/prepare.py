"""``skelssl prepare``: raw dataset files -> the canonical on-disk format.

Items are processed in chunks by a process pool (all cores by default). Each
finished chunk is written to ``<out>/.partial/`` atomically, so an interrupted
run resumes where it stopped; the final arrays are assembled only when every
chunk is done. Unreadable inputs either stop the run with the reader's error
(``on_error="raise"``, the default) or are skipped and counted with their
reason (``on_error="skip"``) — never zero-filled.
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

__all__ = ["prepare_dataset", "PrepareSummary", "ON_ERROR"]

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


_CACHE: dict[str, tuple[DatasetReader, Recipe]] = {}


def _tools(task: _ChunkTask) -> tuple[DatasetReader, Recipe]:
    # Worker processes keep one reader and recipe instead of rebuilding them per chunk.
    key = json.dumps([task.dataset, task.reader_options, task.recipe, task.recipe_options], sort_keys=True)
    if key not in _CACHE:
        _CACHE[key] = (get_reader(task.dataset, **task.reader_options), get_recipe(task.recipe, **task.recipe_options))
    return _CACHE[key]


def _skip(item: str, err: SkeletonFileError, stage: str) -> dict:
    return {"item": item, "file": err.path, "reason": err.reason, "message": str(err), "stage": stage}


def _process_chunk(task: _ChunkTask) -> dict:
    reader, recipe = _tools(task)
    arrays: list[np.ndarray] = []
    rows: list[dict] = []
    skips: list[dict] = []
    untrimmed: list[tuple[str, np.ndarray, np.ndarray]] = []
    single = 0
    for item in task.items:
        try:
            sequences = reader.read(item)
        except SkeletonFileError as err:
            if task.on_error == "raise":
                raise
            skips.append(_skip(item, err, "read"))
            continue
        for seq in sequences:
            try:
                out = recipe(seq)
            except SkeletonFileError as err:
                if task.on_error == "raise":
                    raise
                skips.append(_skip(item, err, "recipe"))
                continue
            single += seq.num_frames == 1
            arrays.append(out.data)
            rows.append({**seq.meta(), "frames": out.valid_frames})
        if task.segmentation:
            video = reader.untrimmed(item)
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
    reader = get_reader(dataset, **reader_options)
    recipe_name = recipe or reader.default_recipe
    recipe_obj = get_recipe(recipe_name, **recipe_options)
    raw = Path(raw_dir) if raw_dir is not None else None
    out = Path(out_dir)

    if (out / "info.json").exists():
        if not overwrite:
            raise FileExistsError(f"{out} already holds a prepared dataset; pass overwrite=True (--overwrite) to replace it")
        for name in ("info.json", "data.npy", "meta.csv", "summary.json"):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "splits", ignore_errors=True)
        shutil.rmtree(out / "untrimmed", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    items = reader.discover(raw) if raw is not None else reader.discover(Path("."))
    listed_skips = [
        {"item": name, "file": name, "reason": reason, "message": f"{name}: {reason}", "stage": "listed"}
        for name, reason in getattr(reader, "skipped_items", lambda _raw: {})(raw).items()
    ]
    if not items:
        raise FileNotFoundError(f"{raw}: no {dataset} files found")

    partial = out / ".partial"
    plan = _plan_key(dataset, items, reader_options, recipe_obj, chunk_size)
    plan_path = partial / "plan.json"
    if partial.exists() and (not resume or not plan_path.exists() or plan_path.read_text() != plan):
        if resume and plan_path.exists():
            print(f"note: {partial} was made with other settings; starting afresh")
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    atomic_write_text(plan_path, plan)

    segmentation = bool(getattr(reader, "segmentation", False))
    chunks = [tuple(items[i : i + chunk_size]) for i in range(0, len(items), chunk_size)]
    tasks = [
        _ChunkTask(i, chunk, dataset, reader_options, recipe_name, recipe_options, on_error, str(partial), segmentation)
        for i, chunk in enumerate(chunks)
    ]
    records: dict[int, dict] = {}
    for task in tasks:
        done = partial / f"chunk_{task.index:06d}.json"
        if done.exists():
            records[task.index] = json.loads(done.read_text())
    summary = PrepareSummary(dataset=dataset, out_dir=str(out), recipe=recipe_name, resumed_chunks=len(records))
    todo = [t for t in tasks if t.index not in records]
    _run_tasks(todo, records, workers, progress, total_items=len(items), done_items=sum(r["items"] for r in records.values()))

    _assemble(out, partial, tasks, records, reader, recipe_obj, raw, summary, segmentation)
    summary.items = len(items)
    summary.skipped = listed_skips + [s for i in range(len(tasks)) for s in records[i]["skips"]]
    summary.single_frame = sum(r["single_frame"] for r in records.values())
    summary.seconds = round(time.perf_counter() - started, 3)
    atomic_write_text(out / "summary.json", json.dumps(summary.to_json(), indent=1))
    info = json.loads((out / "info.json").read_text())
    info["summary"] = {k: v for k, v in summary.to_json().items() if k != "skipped"}
    atomic_write_text(out / "info.json", json.dumps(info, indent=1))
    shutil.rmtree(partial)
    return summary


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
    if not rows:
        raise ValueError(f"{summary.dataset}: every sample was skipped; nothing to write (see the skip reasons)")
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
