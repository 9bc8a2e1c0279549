"""Training output: a live console progress bar, ``metrics.jsonl`` and TensorBoard.

The bar is sized to the terminal (the metrics shrink, with an ellipsis, before
the count and ETA do) and shown only on a terminal; in a log file each epoch is
one line instead. Only the main process writes. ``metrics.jsonl`` holds one JSON object per
line: ``{"kind": "step"|"epoch", "epoch", "step", "time", <metric>: value}``.
On resume, lines past the checkpoint's step are dropped first (they were
logged by the interrupted run and are about to be re-done), and TensorBoard
purges its events past that step the same way.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Column

from skelssl.data.canonical import atomic_write_text

__all__ = ["MetricLogger", "format_metrics", "progress_bar"]

_SHOWN = ("loss", "acc", "top1", "lr")


def format_metrics(metrics: Mapping[str, float], keys: tuple[str, ...] = _SHOWN, *, brief: bool = False) -> str:
    """A compact ``loss 1.2345 acc 0.512 lr 0.1`` line of the metrics a person watches.

    ``brief``: only the metrics named exactly as ``keys`` (``loss``, not every
    ``loss_*`` term), for the progress bar.
    """
    parts = []
    for name, value in metrics.items():
        short = name.rsplit("/", 1)[-1]
        if brief:
            shown = short in keys
        else:
            shown = any(short == k or short.startswith(k) or short.endswith(k) for k in keys)
        if shown:
            parts.append(f"{name} {value:.4g}")
    return "  ".join(parts)


def progress_bar(console: Console, *, transient: bool = False) -> Progress:
    """A one-line bar that fits the terminal: description, bar, count, elapsed, ETA, then metrics.

    The bar and the metrics give way first (the metrics end in an ellipsis),
    so the count and the ETA stay readable at 60 columns.
    """
    fixed = Column(no_wrap=True)
    return Progress(
        TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True)),
        BarColumn(bar_width=None, table_column=Column(ratio=1, min_width=5)),
        MofNCompleteColumn(table_column=fixed), TimeElapsedColumn(table_column=Column(no_wrap=True)),
        TextColumn("eta", table_column=Column(no_wrap=True)), TimeRemainingColumn(table_column=Column(no_wrap=True)),
        TextColumn("{task.fields[metrics]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=2,
                                                                 min_width=8)),
        console=console, transient=transient, expand=True,
    )


class MetricLogger:
    """Console progress (rich), JSONL and TensorBoard, each optional; a no-op off the main process."""

    def __init__(self, run_dir: str | os.PathLike, *, enabled: bool = True, console: bool = True,
                 tensorboard: bool = True, resume_step: int | None = None, epoch_lines: bool = True,
                 out: Console | None = None) -> None:
        """``console``: show progress at all; ``epoch_lines``: a line per finished epoch (else one bar for
        the whole run, gone when it ends: the probes' way); ``out``: where to show it (stderr)."""
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.console = (out or Console(stderr=True)) if enabled and console else None
        # A live bar only on a terminal; in a log file it would be a stream of partial redraws.
        self.live = self.console is not None and self.console.is_terminal
        self.epoch_lines = epoch_lines
        self.progress: Progress | None = None
        self._task: Any = None
        self._jsonl = None
        self._tb = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "metrics.jsonl"
        if resume_step is not None and path.exists():
            _truncate_jsonl(path, resume_step)
        elif resume_step is None and path.exists():
            path.unlink()
        self._jsonl = open(path, "a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides events a previous attempt logged past this point (all of them for a fresh run).
            self._tb = SummaryWriter(str(self.run_dir / "tb"), purge_step=resume_step or 0)

    def log(self, kind: str, epoch: int, step: int, metrics: Mapping[str, float]) -> None:
        if not self.enabled:
            return
        row = {"kind": kind, "epoch": epoch, "step": step, "time": round(time.time(), 3)}
        row.update({k: _json_number(v) for k, v in metrics.items()})
        assert self._jsonl is not None
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()
        if self._tb is not None:
            group = "train" if kind == "step" else "epoch"
            for name, value in metrics.items():
                self._tb.add_scalar(name if "/" in name else f"{group}/{name}", value, step)

    def start_epoch(self, epoch: int, epochs: int, total: int, done: int = 0) -> None:
        if not self.live:
            return
        if self.progress is None:
            self.progress = progress_bar(self.console, transient=not self.epoch_lines)
            self.progress.start()
            whole = total * epochs if not self.epoch_lines else total
            self._task = self.progress.add_task("", total=whole, metrics="")
        if self.epoch_lines:
            # One bar, reset every epoch; finished epochs are printed as lines above it.
            self.progress.reset(self._task, total=total, completed=done, description=f"epoch {epoch + 1}/{epochs}",
                                metrics="")
        else:
            self.progress.update(self._task, completed=epoch * total + done, description=f"epoch {epoch + 1}/{epochs}")

    def advance(self, metrics: Mapping[str, float] | None = None) -> None:
        if self.progress is None:
            return
        if metrics:
            self.progress.update(self._task, advance=1, metrics=format_metrics(metrics, brief=True))
        else:
            self.progress.update(self._task, advance=1)

    def end_epoch(self, epoch: int, metrics: Mapping[str, float], epochs: int | None = None) -> None:
        if self.console is not None and self.epoch_lines:
            of = f"/{epochs}" if epochs else ""
            self.console.print(f"epoch {epoch + 1}{of}: {format_metrics(metrics)}", markup=False, highlight=False)

    def print(self, message: str) -> None:
        if self.console is not None:
            self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _json_number(value: Any) -> Any:
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _truncate_jsonl(path: Path, step: int) -> None:
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut off by the kill
        if int(row.get("step", 0)) <= step:
            kept.append(line)
    atomic_write_text(path, "".join(k + "\n" for k in kept))
