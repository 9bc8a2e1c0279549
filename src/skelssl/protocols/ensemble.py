"""Multi-stream ensembles: a weighted sum of per-stream test scores.

Each protocol run saved ``scores.npy`` and ``test_indices.npy`` (see
:mod:`skelssl.protocols.results`); the ensemble aligns the runs on their test
indices (the same set is required; the order may differ), adds
``weight_i * scores_i`` and scores the sum. By default the raw saved scores are
added (logits for linear/fine-tune, as in the 2s-AGCN / CrosSCLR multi-stream
code); ``softmax=True`` adds class probabilities instead, which puts streams
with different logit scales on a common footing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from skelssl.protocols.results import RESULTS_FILE, SCORES_FILE, classification_metrics, load_scores

__all__ = ["StreamScores", "load_stream", "find_eval_dir", "combine_scores", "ensemble"]


@dataclass
class StreamScores:
    path: Path
    scores: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    results: dict[str, Any]


def find_eval_dir(source: str | Path, protocol: str | None = None) -> Path:
    """The directory holding a stream's ``scores.npy``.

    ``source`` is that directory itself, or a run directory (then
    ``eval/<protocol>`` or, failing that, the single ``eval/<protocol>_*`` with
    scores), or ``RUN:VIEW`` meaning ``RUN/eval/<protocol>_<view>``.
    """
    text = str(source)
    view = None
    if not Path(text).exists() and ":" in text:
        text, _, view = text.rpartition(":")
    path = Path(text)
    if view is None and (path / SCORES_FILE).exists():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such run or evaluation directory")
    if protocol is None:
        raise ValueError(f"{path} holds no {SCORES_FILE}; say which protocol's scores to use (--protocol)")
    eval_root = path / "eval"
    if view is not None:
        candidate = eval_root / f"{protocol}_{view}"
        if not (candidate / SCORES_FILE).exists():
            raise FileNotFoundError(
                f"{candidate}: no {SCORES_FILE}; run `skelssl evaluate {protocol} --view {view}` first")
        return candidate
    if (eval_root / protocol / SCORES_FILE).exists():
        return eval_root / protocol
    matches = sorted(p for p in eval_root.glob(f"{protocol}_*") if (p / SCORES_FILE).exists())
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FileNotFoundError(
            f"{path}: no {protocol} scores under {eval_root}; run `skelssl evaluate {protocol}` first")
    names = ", ".join(p.name for p in matches)
    raise ValueError(f"{path}: several {protocol} evaluations ({names}); pick one as RUN:VIEW or give its directory")


def load_stream(source: str | Path, protocol: str | None = None) -> StreamScores:
    path = find_eval_dir(source, protocol)
    scores, indices, labels = load_scores(path)
    results_path = path / RESULTS_FILE
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    return StreamScores(path=path, scores=scores, indices=indices, labels=labels, results=results)


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check_same_test_set(streams: Sequence[StreamScores]) -> list[np.ndarray]:
    """Row order that aligns each stream with the first; raises if the test sets differ."""
    ref = streams[0]
    if len(np.unique(ref.indices)) != len(ref.indices):
        raise ValueError(f"{ref.path}: repeated test indices")
    for s in streams[1:]:
        if s.scores.shape[1] != ref.scores.shape[1]:
            raise ValueError(
                f"test sets differ: {ref.path} has {ref.scores.shape[1]} classes, {s.path} has {s.scores.shape[1]}"
            )
        for key in ("dataset", "data_root", "split_protocol"):
            a, b = ref.results.get(key), s.results.get(key)
            if a is not None and b is not None and a != b:
                raise ValueError(f"test sets differ: {key} is {a!r} in {ref.path} but {b!r} in {s.path}")
        if len(s.indices) != len(ref.indices) or not np.array_equal(np.sort(s.indices), np.sort(ref.indices)):
            only_ref = np.setdiff1d(ref.indices, s.indices).size
            only_s = np.setdiff1d(s.indices, ref.indices).size
            raise ValueError(
                f"test sets differ: {ref.path} has {len(ref.indices)} test samples, {s.path} has {len(s.indices)} "
                f"({only_ref} only in the first, {only_s} only in the second)"
            )
    orders = []
    ref_pos = np.argsort(ref.indices, kind="stable")
    for s in streams:
        # order[i] = row of s holding the sample in row i of the reference.
        order = np.empty(len(ref.indices), dtype=np.int64)
        order[ref_pos] = np.argsort(s.indices, kind="stable")
        if not np.array_equal(s.labels[order], ref.labels):
            raise ValueError(f"test sets differ: labels of {s.path} disagree with {ref.path} on the same samples")
        orders.append(order)
    return orders


def combine_scores(
    streams: Sequence[StreamScores], weights: Sequence[float] | None = None, *, softmax: bool = False
) -> np.ndarray:
    """``sum_i weight_i * scores_i`` over streams aligned to the first stream's test order."""
    if not streams:
        raise ValueError("an ensemble needs at least one stream")
    weights = [1.0] * len(streams) if weights is None else [float(w) for w in weights]
    if len(weights) != len(streams):
        raise ValueError(f"{len(weights)} weights for {len(streams)} streams")
    orders = _check_same_test_set(streams)
    total = np.zeros(streams[0].scores.shape, dtype=np.float64)
    for s, w, order in zip(streams, weights, orders):
        scores = s.scores[order].astype(np.float64)
        total += w * (_softmax(scores) if softmax else scores)
    return total


def ensemble(
    sources: Sequence[str | Path],
    weights: Sequence[float] | None = None,
    *,
    protocol: str | None = None,
    softmax: bool = False,
) -> dict[str, Any]:
    """Load the streams, check their test sets, combine and score.

    Returns the metrics of the combination (``top1``, ``top5``, per-class
    accuracy, confusion matrix), each stream's own top-1/top-5, and the
    combined ``scores`` / ``indices`` / ``labels`` arrays (in the first
    stream's test order) and that stream's ``results.json`` as ``reference``.
    """
    streams = [load_stream(s, protocol) for s in sources]
    combined = combine_scores(streams, weights, softmax=softmax)
    ref = streams[0]
    metrics = classification_metrics(combined, ref.labels)
    per_stream = []
    for s, w in zip(streams, weights or [1.0] * len(streams)):
        m = classification_metrics(s.scores, s.labels)
        per_stream.append({"path": str(s.path), "weight": float(w), "view": s.results.get("view"),
                           "method": s.results.get("method"), "top1": m["top1"], "top5": m["top5"]})
    return {**metrics, "streams": per_stream, "softmax": softmax, "protocol": protocol,
            "scores": combined, "indices": ref.indices, "labels": ref.labels, "reference": ref.results}
