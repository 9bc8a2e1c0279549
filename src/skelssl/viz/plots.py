"""Plots of a run a person can read: the training curve and the probes against their floor.

* :func:`plot_training_curve` (``loss.png``): the loss of every logged step
  (faint), its running mean (the line to read) and the epoch means (dots)
  against epochs, with the learning rate on a second axis; titled with the
  method and dataset.
* :func:`plot_probe_results` (``probes.png``): top-1 of each probe on the
  pretrained encoder beside the same probe on the random frozen encoder (the
  floor), with chance level drawn across.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_metrics", "smooth", "plot_training_curve", "plot_probe_results"]


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` (a line cut off by a kill is skipped)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def smooth(values: Sequence[float], window: int | None = None) -> np.ndarray:
    """Running mean over ``window`` points (default: a tenth of them, at least 1), same length as the input.

    The first points average what is there so far, so the curve starts at the data, not at zero.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return x
    window = max(1, int(window or round(x.size / 10)))
    csum = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, x.size + 1)
    lo = np.maximum(0, idx - window)
    return (csum[idx] - csum[lo]) / (idx - lo)


def plot_training_curve(metrics_file: str | Path, out: str | Path, *, title: str, metric: str = "loss",
                        ylabel: str = "training loss") -> Path | None:
    """Write the training curve of ``metrics_file`` to ``out`` (PNG); None when nothing was logged."""
    rows = read_metrics(metrics_file)
    steps = [(r["step"], r[metric], r.get("lr")) for r in rows if r.get("kind") == "step" and _finite(r.get(metric))]
    epochs = [(r["step"], r[metric]) for r in rows if r.get("kind") == "epoch" and _finite(r.get(metric))]
    if not steps and not epochs:
        return None
    # Steps per epoch from the epoch rows (the step count at each epoch's end), so the x axis is in epochs.
    ends = [r["step"] for r in rows if r.get("kind") == "epoch"]
    per_epoch = ends[0] if ends else max(s for s, _, _ in steps)
    per_epoch = max(1, int(per_epoch))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if steps:
        x = np.array([s for s, _, _ in steps], dtype=float) / per_epoch
        y = np.array([v for _, v, _ in steps], dtype=float)
        ax.plot(x, y, color="tab:blue", alpha=0.25, linewidth=0.8, label=f"each logged step ({len(y)})")
        if len(y) >= 5:
            ax.plot(x, smooth(y), color="tab:blue", linewidth=2, label="running mean of steps")
    if epochs:
        ex = np.array([s for s, _ in epochs], dtype=float) / per_epoch
        ax.plot(ex, [v for _, v in epochs], "o", color="tab:red", markersize=6, label="epoch mean")
    ax.set_xlabel(f"epoch ({per_epoch} steps each)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    lrs = [(s / per_epoch, lr) for s, _, lr in steps if _finite(lr)]
    handles, labels = ax.get_legend_handles_labels()
    if lrs and len({lr for _, lr in lrs}) > 1:
        ax2 = ax.twinx()
        ax2.plot(*zip(*lrs), "--", color="grey", linewidth=1, label="learning rate")
        ax2.set_ylabel("learning rate", color="grey")
        ax2.tick_params(axis="y", colors="grey")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="best", fontsize=8)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_probe_results(rows: Sequence[Mapping[str, Any]], out: str | Path, *, title: str,
                       chance: float | None = None) -> Path | None:
    """Bars of top-1 per probe: ``rows`` of ``{"probe", "pretrained", "floor"}`` (either may be None)."""
    rows = [r for r in rows if r.get("pretrained") is not None or r.get("floor") is not None]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(rows), 4))
    x = np.arange(len(rows))
    width = 0.38
    for offset, key, colour, label in ((-width / 2, "pretrained", "tab:blue", "pretrained encoder"),
                                       (width / 2, "floor", "tab:grey", "random frozen encoder (floor)")):
        values = [r.get(key) for r in rows]
        if all(v is None for v in values):
            continue
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(x + offset, heights, width, color=colour, label=label)
        for bar, v in zip(bars, values):
            if v is not None:
                ax.annotate(f"{v:.1f}", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom",
                            fontsize=8, xytext=(0, 2), textcoords="offset points")
    if chance is not None:
        ax.axhline(chance, color="tab:red", linestyle="--", linewidth=1, label=f"chance ({chance:.1f} %)")
    ax.set_xticks(x, [str(r["probe"]) for r in rows], fontsize=8)
    ax.set_ylabel("test top-1 accuracy (%)")
    top = max(v for r in rows for v in (r.get("pretrained"), r.get("floor")) if v is not None)
    ax.set_ylim(0, min(100, top * 1.25 + 5))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
