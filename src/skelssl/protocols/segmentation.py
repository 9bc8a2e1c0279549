"""Unsupervised action segmentation: a frozen encoder's per-frame features and a per-frame linear classifier.

ActCLR's Table 6 protocol (pretrain on one dataset, segment another's
untrimmed videos with a linear classifier on frozen features), for any
prepared dataset with an ``untrimmed/`` folder (``skelssl prepare pkummd1
--reader-option segmentation=true``, or the synthetic generator's videos with
``--reader-option segmentation=true``):

1. **Videos and split.** ``untrimmed/sequences.npy`` holds every video's raw
   frames ``(ΣT, C, V, M)``, ``frame_labels.npy`` one label per frame (-1 =
   background), ``videos.csv`` each video's offset and length. A video belongs
   to the split part that holds its trimmed instances (sample ids
   ``<video>_<k>``), so the dataset's official video lists carry over.
2. **Dense per-frame features.** Windows of ``window`` raw frames every
   ``stride`` frames (the last one flush with the video's end; a video shorter
   than a window is one window) are preprocessed with the dataset's own recipe,
   exactly as a trimmed instance of the same length would be (its valid
   frames, or its evaluation clip for recipes that store whole sequences and
   draw clips, ``agc_lstm``), and go through the frozen
   encoder. Its dense map ``(M, D, T', V)`` is averaged over bodies and joints
   and its ``T'`` steps brought back to the window's ``window`` frames by linear
   interpolation with the end points aligned (step 0 ↔ the window's first
   frame, step ``T'−1`` ↔ its last: the encoder's strided steps cover the
   window evenly, as the recipe's resampling does). Every frame's feature is the
   mean over the windows that cover it.
3. **Per-frame linear classifier** over the dataset's classes plus one
   *background* class, trained on the training videos' frames (every
   ``train_frame_stride``-th) with the engine's Trainer (standardised features,
   ``feature_norm: batchnorm``, so a random encoder's tiny feature spread gets
   its due as the floor), and applied to every frame of the test videos.
4. **Metrics** from the frame confusion matrix ``cm[true, predicted]``
   (:func:`segmentation_metrics`): ACC, MACC (mean per-class recall), FWIoU
   (IoU weighted by each class's share of the frames) and mIoU, in %, and a
   timeline PNG of truth against prediction for a few test videos.

Output in the evaluation directory: ``results.json``, ``frame_predictions.npy``
/ ``frame_labels.npy`` (test frames, video order), ``timeline.png``, and the
classifier's ``checkpoints/``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.data.types import SkeletonFileError

__all__ = ["UntrimmedVideos", "open_untrimmed", "video_split", "window_starts", "dense_map", "frame_features",
           "segmentation_metrics", "plot_timelines", "run_segmentation", "BACKGROUND"]

BACKGROUND = "background"


@dataclass
class UntrimmedVideos:
    """The ``untrimmed/`` folder of a prepared dataset (sequences memory-mapped)."""

    root: Path
    ids: list[str]
    offsets: np.ndarray
    lengths: np.ndarray
    sequences: np.ndarray  # (ΣT, C, V, M) float32
    frame_labels: np.ndarray  # (ΣT,) int, -1 = background

    def __len__(self) -> int:
        return len(self.ids)

    def frames(self, v: int) -> np.ndarray:
        return self.sequences[self.offsets[v]: self.offsets[v] + self.lengths[v]]

    def labels(self, v: int) -> np.ndarray:
        return np.asarray(self.frame_labels[self.offsets[v]: self.offsets[v] + self.lengths[v]], dtype=np.int64)


def open_untrimmed(prepared: Any) -> UntrimmedVideos:
    """``prepared``'s untrimmed videos; a missing or inconsistent file is an error naming it."""
    from skelssl.data.files import load_npy, read_text_file

    root = Path(prepared.root) / "untrimmed"
    table = root / "videos.csv"
    if not table.is_file():
        raise FileNotFoundError(f"{prepared.root}: no untrimmed videos (untrimmed/videos.csv); prepare the dataset "
                                "with --reader-option segmentation=true")
    reader = csv.DictReader(io.StringIO(read_text_file(table), newline=""))
    if reader.fieldnames is None or not {"video_id", "offset", "length"} <= set(reader.fieldnames):
        raise SkeletonFileError(table, "needs the columns video_id, offset, length", reason="corrupt")
    ids, offsets, lengths = [], [], []
    for row in reader:
        try:
            ids.append(row["video_id"])
            offsets.append(int(row["offset"]))
            lengths.append(int(row["length"]))
        except (TypeError, ValueError):
            raise SkeletonFileError(table, f"line {reader.line_num}: offset and length must be integers",
                                    reason="corrupt") from None
    sequences = load_npy(root / "sequences.npy", mmap=True)
    labels = load_npy(root / "frame_labels.npy", mmap=True)
    total = sum(lengths)
    if sequences.ndim != 4 or len(sequences) != total:
        raise SkeletonFileError(root / "sequences.npy", f"holds {sequences.shape[:1]} frames, videos.csv says {total}",
                                reason="corrupt")
    if labels.shape != (total,):
        raise SkeletonFileError(root / "frame_labels.npy", f"holds {labels.shape} labels for {total} frames",
                                reason="corrupt")
    if ids and (np.any(np.diff(offsets) != np.asarray(lengths[:-1])) or offsets[0] != 0):
        raise SkeletonFileError(table, "offsets are not the running sum of the lengths", reason="corrupt")
    return UntrimmedVideos(root, ids, np.asarray(offsets, np.int64), np.asarray(lengths, np.int64), sequences, labels)


def video_split(prepared: Any, videos: UntrimmedVideos, protocol: str, part: str) -> np.ndarray:
    """Indices of the videos whose trimmed instances (``<video>_<k>``) are in ``protocol``'s ``part``."""
    rows = prepared.split(protocol, part)
    names = {str(s).rsplit("_", 1)[0] for s in prepared.meta["sample_id"][rows]}
    return np.asarray([v for v, vid in enumerate(videos.ids) if vid in names], dtype=np.int64)


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Window starts every ``stride`` frames, the last flush with the end (one window if ``length <= window``)."""
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window} and {stride}")
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def dense_map(encoder: nn.Module, x: Tensor) -> Tensor:
    """The dense map ``(N, M, D, T', V)`` of an evaluation encoder (view wrappers and joint mappings undone)."""
    from skelssl.data.layout_mapping import LayoutAdapter
    from skelssl.data.views import to_view
    from skelssl.methods.components import ViewEncoder
    from skelssl.models.base import SkeletonEncoder

    if isinstance(encoder, LayoutAdapter):
        return dense_map(encoder.encoder, encoder.adapt(x))
    if isinstance(encoder, ViewEncoder):
        return dense_map(encoder.backbone, to_view(x, encoder.view, encoder.layout))
    if isinstance(encoder, SkeletonEncoder):
        return encoder.forward_features(x)
    raise TypeError(f"segmentation needs an encoder with a dense temporal map (a SkeletonEncoder), "
                    f"got {type(encoder).__name__}")


class _Windows:
    """Turns raw video windows into encoder input with the dataset's recipe (and clip)."""

    def __init__(self, prepared: Any, clip_frames: int | None) -> None:
        from skelssl.data.recipes import get_recipe

        spec = dict(prepared.info.get("recipe") or {})
        name = spec.pop("name", None)
        if name is None:
            raise ValueError(f"{prepared.root}: info.json names no recipe to preprocess the video windows with")
        # describe() may add derived entries; the constructor takes the rest.
        accepted = _init_options(name)
        self.recipe = get_recipe(name, **{k: v for k, v in spec.items() if k in accepted})
        self.layout = prepared.layout.name
        self.clip_frames = clip_frames

    def __call__(self, frames: np.ndarray, sample_id: str) -> np.ndarray | None:
        from skelssl.data.dataset import clip_indices
        from skelssl.data.types import RawSequence

        joints = np.ascontiguousarray(frames.transpose(3, 0, 2, 1))  # (W, C, V, M) -> (M, W, V, C)
        present = np.abs(joints).sum(axis=(2, 3)) > 0
        if not present.any():
            return None
        out = self.recipe(RawSequence(sample_id=sample_id, joints=joints, present=present, layout=self.layout))
        if self.clip_frames is not None:  # a recipe that stores whole sequences: its evaluation clip
            index = clip_indices(np.array([out.valid_frames]), self.clip_frames, "uniform")[0]
            return out.data[:, index]
        return out.data[:, :out.valid_frames]  # the frames that hold the window, not the padding


def _init_options(recipe: str) -> set[str]:
    from skelssl.data.options import keyword_names
    from skelssl.data.recipes.base import RECIPES

    cls = RECIPES.get(recipe)
    return keyword_names(cls) if isinstance(cls, type) else set()


@torch.no_grad()
def frame_features(encoder: nn.Module, prepared: Any, videos: UntrimmedVideos, which: np.ndarray, *,
                   window: int, stride: int, batch_size: int = 64, device: torch.device | str = "cpu",
                   clip_frames: int | None = None) -> tuple[list[np.ndarray], dict[str, int]]:
    """Per-frame features ``(T_v, D)`` of the videos ``which`` (module docstring, step 2), and window counts."""
    from skelssl.protocols.features import eval_mode

    encoder.to(device)
    prep = _Windows(prepared, clip_frames)
    feats: list[np.ndarray] = []
    counts = {"windows": 0, "empty_windows": 0, "uncovered_frames": 0}
    pending: list[tuple[int, int, int, np.ndarray]] = []  # (video slot, start, length, input)
    sums: list[Tensor | None] = []
    hits: list[Tensor] = []

    def flush() -> None:
        if not pending:
            return
        x = torch.from_numpy(np.stack([p[3] for p in pending])).to(device)
        dense = dense_map(encoder, x).float()  # (B, M, D, T', V)
        seq = dense.mean(dim=(1, 4))  # (B, D, T')
        for (slot, start, length, _), f in zip(pending, seq):
            per_frame = (f[:, :1].expand(-1, length) if f.shape[1] == 1 else
                         F.interpolate(f[None], size=length, mode="linear", align_corners=True)[0])
            if sums[slot] is None:
                sums[slot] = torch.zeros(f.shape[0], int(videos.lengths[which[slot]]))
            sums[slot][:, start:start + length] += per_frame.cpu()
            hits[slot][start:start + length] += 1
        pending.clear()

    with eval_mode(encoder):
        for slot, v in enumerate(which):
            length = int(videos.lengths[v])
            sums.append(None)
            hits.append(torch.zeros(length))
            frames = videos.frames(v)
            for start in window_starts(length, window, stride):
                w = min(window, length)
                x = prep(np.asarray(frames[start:start + w], dtype=np.float32), f"{videos.ids[v]}@{start}")
                counts["windows"] += 1
                if x is None:
                    counts["empty_windows"] += 1
                    continue
                if pending and pending[0][3].shape != x.shape:  # a batch holds windows of one length
                    flush()
                pending.append((slot, start, w, x))
                if len(pending) >= batch_size:
                    flush()
        flush()
    dim = next((s.shape[0] for s in sums if s is not None), None)
    if dim is None:
        raise ValueError(f"{videos.root}: no video window holds a body")
    for slot, v in enumerate(which):
        total = sums[slot] if sums[slot] is not None else torch.zeros(dim, int(videos.lengths[v]))
        counts["uncovered_frames"] += int((hits[slot] == 0).sum())
        feats.append((total / hits[slot].clamp_min(1)).t().contiguous().numpy())
    return feats, counts


def segmentation_metrics(cm: np.ndarray) -> dict[str, Any]:
    """ACC, MACC, FWIoU and mIoU (in %) of a frame confusion matrix ``cm[true, predicted]``.

    * ACC = Σ_i cm_ii / Σ cm;
    * MACC = mean over the classes present in the truth of cm_ii / Σ_j cm_ij;
    * IoU_i = cm_ii / (Σ_j cm_ij + Σ_j cm_ji − cm_ii) for every class that is in the
      truth or the predictions (others have no IoU);
    * mIoU = mean IoU_i; FWIoU = Σ_i (Σ_j cm_ij / Σ cm) IoU_i.
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {cm.shape}")
    total = cm.sum()
    if total <= 0:
        raise ValueError("empty confusion matrix")
    diag, truth, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    union = truth + predicted - diag
    present = truth > 0
    seen = union > 0
    iou = np.where(seen, diag / np.where(seen, union, 1.0), np.nan)
    return {
        "acc": float(diag.sum() / total * 100.0),
        "macc": float(np.mean(diag[present] / truth[present]) * 100.0),
        "fwiou": float(np.nansum(truth / total * iou) * 100.0),
        "miou": float(np.nanmean(iou[seen]) * 100.0),
        "per_class_iou": [None if math.isnan(u) else float(u * 100.0) for u in iou],
        "per_class_accuracy": [float(diag[i] / truth[i] * 100.0) if present[i] else None for i in range(len(cm))],
    }


def plot_timelines(path: str | Path, rows: list[tuple[str, np.ndarray, np.ndarray]], class_names: list[str]) -> None:
    """A coloured timeline per video: ground truth above, prediction below; background in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    k = len(class_names)
    base = plt.get_cmap("tab20")
    # tab20's strong colours first, then its light ones; its two greys are left to the background.
    order = [i for i in list(range(0, 20, 2)) + list(range(1, 20, 2)) if i not in (14, 15)]
    colours = [base(order[i % len(order)]) for i in range(k - 1)] + [(0.85, 0.85, 0.85, 1.0)]  # background last
    cmap = ListedColormap(colours)
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, 0.9 * len(rows) + 1.2), squeeze=False)
    for ax, (name, truth, pred) in zip(axes[:, 0], rows):
        ax.imshow(np.stack([truth, pred]), aspect="auto", cmap=cmap, vmin=-0.5, vmax=k - 0.5,
                  interpolation="nearest")
        ax.set_yticks([0, 1], ["truth", "prediction"])
        ax.set_title(f"{name}  ({(truth == pred).mean() * 100:.1f} % of frames right)", fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("frame")
    present = sorted({int(c) for _, t, p in rows for c in np.concatenate([t, p])})
    fig.legend(handles=[Patch(color=colours[c], label=class_names[c]) for c in present], loc="lower center",
               ncol=min(6, len(present)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_segmentation(encoder: nn.Module, prepared: Any, cfg: Any, out_dir: str | Path, *, context: Any,
                     clip_frames: int | None = None, resume: bool = False, device: str | None = None,
                     quiet: bool = False) -> dict[str, Any]:
    """The protocol (module docstring) on ``prepared``'s untrimmed videos; writes and returns ``results.json``."""
    import json
    from datetime import datetime, timezone

    from skelssl import __version__
    from skelssl.data.canonical import atomic_write_text
    from skelssl.engine.seed import seed_everything
    from skelssl.protocols.features import Features, FeatureDataset
    from skelssl.protocols.linear import LinearProbe, _classify
    from skelssl.protocols.results import confusion_matrix
    from skelssl.protocols.training import as_config, protocol_device, train_classifier

    cfg = as_config(cfg)
    p = cfg.protocol
    out = Path(out_dir)
    device = protocol_device(device)
    videos = open_untrimmed(prepared)
    split = str(cfg.data.protocol)
    train_v, test_v = video_split(prepared, videos, split, "train"), video_split(prepared, videos, split, "test")
    if not len(train_v) or not len(test_v):
        raise ValueError(f"{prepared.root}: split {split!r} leaves {len(train_v)} training and {len(test_v)} test "
                         "videos; segmentation needs both")
    num_classes = prepared.num_classes
    background = num_classes  # the extra class
    names = list(prepared.info.get("class_names") or [str(i) for i in range(num_classes)]) + [BACKGROUND]
    kw = dict(window=int(p.window), stride=int(p.stride), batch_size=int(p.get("feature_batch_size", 64)),
              device=device, clip_frames=clip_frames)
    train_f, train_counts = frame_features(encoder, prepared, videos, train_v, **kw)
    test_f, test_counts = frame_features(encoder, prepared, videos, test_v, **kw)

    def labels(which: np.ndarray) -> np.ndarray:
        y = np.concatenate([videos.labels(v) for v in which])
        if y.size and (y.max() >= num_classes or y.min() < -1):
            raise SkeletonFileError(videos.root / "frame_labels.npy", f"labels outside -1..{num_classes - 1}",
                                    reason="bad_label")
        return np.where(y < 0, background, y)

    step = int(p.get("train_frame_stride", 1))
    x_train = torch.from_numpy(np.concatenate(train_f)[::step])
    y_train = torch.from_numpy(labels(train_v)[::step])
    seed_everything(int(cfg.train.seed))
    probe = LinearProbe(nn.Identity(), x_train.shape[1], num_classes + 1, feature_norm=p.get("feature_norm"))
    data = FeatureDataset(Features(x_train, y_train, torch.arange(len(y_train))))
    summary = train_classifier(probe, data, cfg, out, resume=resume, device=device, num_workers=0, quiet=quiet)
    x_test = torch.from_numpy(np.concatenate(test_f))
    y_test = labels(test_v)
    pred = _classify(probe, x_test).argmax(dim=1).numpy()
    cm = confusion_matrix(y_test, pred, num_classes + 1)
    metrics = segmentation_metrics(cm)
    np.save(out / "frame_predictions.npy", pred.astype(np.int16))
    np.save(out / "frame_labels.npy", y_test.astype(np.int16))

    shown = test_v[: int(p.get("timeline_videos", 4))]
    bounds = np.cumsum([0] + [int(videos.lengths[v]) for v in test_v])
    rows = [(videos.ids[v], y_test[bounds[i]:bounds[i + 1]], pred[bounds[i]:bounds[i + 1]])
            for i, v in enumerate(shown)]
    if rows:
        plot_timelines(out / "timeline.png", rows, names)

    context.epochs = int(summary["epoch"])
    results = {
        **{k: metrics[k] for k in ("acc", "macc", "fwiou", "miou")},
        "num_classes": num_classes + 1,
        "num_train_videos": int(len(train_v)), "num_test_videos": int(len(test_v)),
        "num_train_frames": int(len(y_train)), "num_test_frames": int(len(y_test)),
        "window": kw["window"], "stride": kw["stride"], "train_frame_stride": step,
        "windows": {"train": train_counts, "test": test_counts},
        "train_accuracy": summary["metrics"].get("acc"),
        **context.to_json(),
        "class_names": names,
        "per_class_iou": metrics["per_class_iou"],
        "per_class_accuracy": metrics["per_class_accuracy"],
        "confusion_matrix": cm.tolist(),
        "test_videos": [videos.ids[v] for v in test_v],
        "timeline": "timeline.png" if rows else None,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "skelssl_version": __version__,
    }
    atomic_write_text(out / "results.json", json.dumps(results, indent=1) + "\n")
    return results
