"""What every evaluation protocol leaves behind: ``results.json`` and its test scores.

A protocol run writes, in its output directory (``<run_dir>/eval/<name>/``)::

    results.json      metrics + everything needed to reproduce them (see below)
    scores.npy        float32 (N_test, num_classes): the classifier's logits, or
                      KNN's normalised vote shares, in test-set order
    test_indices.npy  int64 (N_test,): row of each test sample in the prepared data.npy
    test_labels.npy   int64 (N_test,)

``skelssl ensemble`` combines ``scores.npy`` of several runs after checking that
their ``test_indices.npy`` describe the same test set.

Accuracies are percentages throughout (top-1, top-5 and per class), as papers
report them. The confusion matrix is ``cm[true, predicted]`` (sample counts).
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from skelssl import __version__
from skelssl.data.canonical import atomic_write_text

__all__ = [
    "EvalContext",
    "topk_accuracy",
    "confusion_matrix",
    "per_class_accuracy",
    "classification_metrics",
    "save_scores",
    "load_scores",
    "write_results",
    "read_results",
    "command_line",
    "SCORES_FILE",
    "INDICES_FILE",
    "LABELS_FILE",
    "RESULTS_FILE",
]

RESULTS_FILE = "results.json"
SCORES_FILE = "scores.npy"
INDICES_FILE = "test_indices.npy"
LABELS_FILE = "test_labels.npy"


@dataclass
class EvalContext:
    """Who and what was evaluated; copied verbatim into ``results.json``."""

    protocol: str
    method: str | None = None
    view: str | None = None
    dataset: str | None = None
    data_root: str | None = None
    split_protocol: str | None = None
    checkpoint: str | None = None
    random_init: bool = False
    seed: int | None = None
    epochs: int | None = None
    class_names: list[str] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    # The run's pretraining dataset (transfer: not ``dataset``); for the random floor the one its
    # architecture was built for. None without a run.
    pretrain_dataset: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "method": self.method,
            "view": self.view,
            "dataset": self.dataset,
            "data_root": self.data_root,
            "split_protocol": self.split_protocol,
            "checkpoint": self.checkpoint,
            "random_init": self.random_init,
            "seed": self.seed,
            "epochs": self.epochs,
            "class_names": self.class_names,
            "config": self.config,
            "command": self.command if self.command is not None else command_line(),
            "pretrain_dataset": self.pretrain_dataset,
            **({"extra": self.extra} if self.extra else {}),
        }


def command_line() -> str:
    """The command that started this process, shell-quoted so it can be pasted back."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("skelssl", "__main__.py")):
        argv[0] = "skelssl"
    return " ".join(shlex.quote(a) for a in argv)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share (in %) of samples whose label is among the ``k`` highest scores.

    ``k`` is capped at the number of classes, so top-5 of a 3-class task is 100 %.
    Ties at the k-th score are broken by the lower class index, like ``argsort``.
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if len(labels) == 0:
        return math.nan
    k = min(k, scores.shape[1])
    # A stable sort of the negated scores keeps the lower index first among equals.
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean() * 100.0)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[i, j]`` = number of samples of class ``i`` predicted as ``j``."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ in shape")
    both = np.concatenate([labels, predictions])
    if len(both) and (both.min() < 0 or both.max() >= num_classes):
        raise ValueError(f"labels or predictions outside 0..{num_classes - 1}")
    return np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def per_class_accuracy(cm: np.ndarray) -> list[float | None]:
    """Recall of each class in %; ``None`` for a class with no test samples (JSON has no NaN)."""
    totals = cm.sum(axis=1)
    return [None if n == 0 else float(cm[i, i] / n * 100.0) for i, n in enumerate(totals)]


def classification_metrics(scores: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> dict[str, Any]:
    """Top-1/top-5, per-class accuracy, mean class accuracy and the confusion matrix."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if scores.ndim != 2 or scores.shape[0] != len(labels):
        raise ValueError(f"scores must be (N, C) with N = {len(labels)} labels, got {scores.shape}")
    if len(labels) == 0:
        raise ValueError("no test samples to score")
    num_classes = num_classes or scores.shape[1]
    predictions = scores.argmax(axis=1)
    cm = confusion_matrix(labels, predictions, num_classes)
    per_class = per_class_accuracy(cm)
    present = [a for a in per_class if a is not None]
    return {
        "top1": topk_accuracy(scores, labels, 1),
        "top5": topk_accuracy(scores, labels, 5),
        "mean_class_accuracy": float(np.mean(present)) if present else None,
        "num_test": int(len(labels)),
        "num_classes": int(num_classes),
        "per_class_accuracy": per_class,
        "confusion_matrix": cm.tolist(),
    }


def save_scores(out_dir: str | Path, scores: np.ndarray, indices: np.ndarray, labels: np.ndarray) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores = np.asarray(scores, dtype=np.float32)
    indices = np.asarray(indices, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    if not (scores.shape[0] == len(indices) == len(labels)):
        raise ValueError(f"{scores.shape[0]} score rows, {len(indices)} indices, {len(labels)} labels")
    np.save(out / SCORES_FILE, scores)
    np.save(out / INDICES_FILE, indices)
    np.save(out / LABELS_FILE, labels)


def load_scores(out_dir: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scores, test_indices, test_labels)`` saved by :func:`save_scores`."""
    out = Path(out_dir)
    missing = [n for n in (SCORES_FILE, INDICES_FILE, LABELS_FILE) if not (out / n).exists()]
    if missing:
        raise FileNotFoundError(f"{out}: no saved test scores ({', '.join(missing)} missing)")
    scores, indices, labels = (np.load(out / n, allow_pickle=False) for n in (SCORES_FILE, INDICES_FILE, LABELS_FILE))
    return scores, indices, labels


def write_results(
    out_dir: str | Path,
    context: EvalContext,
    scores: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    *,
    num_classes: int | None = None,
    extra_metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Compute the metrics, save the scores and write ``results.json``; returns its content."""
    out = Path(out_dir)
    save_scores(out, scores, indices, labels)
    metrics = classification_metrics(scores, labels, num_classes)
    results = {
        **{k: metrics[k] for k in ("top1", "top5", "mean_class_accuracy", "num_test", "num_classes")},
        **(extra_metrics or {}),
        **context.to_json(),
        "per_class_accuracy": metrics["per_class_accuracy"],
        "confusion_matrix": metrics["confusion_matrix"],
        "scores_file": SCORES_FILE,
        "indices_file": INDICES_FILE,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "skelssl_version": __version__,
    }
    atomic_write_text(out / RESULTS_FILE, json.dumps(results, indent=1, default=_json_default) + "\n")
    return results


def read_results(out_dir: str | Path) -> dict[str, Any]:
    path = Path(out_dir) / RESULTS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} not found")
    return json.loads(path.read_text())


def _json_default(value: Any) -> Any:
    # Config values and metrics may be numpy scalars/arrays or paths.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
