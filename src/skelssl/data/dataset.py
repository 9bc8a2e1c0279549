"""A PyTorch dataset over the canonical format (memory-mapped, no copies up front).

Input clips
-----------
Most recipes store exactly the frames a model sees (``crossclr``: every
sample resized to 50). Recipes that keep whole sequences (``agc_lstm``: every
valid frame, zero-padded) write ``clip_frames`` to ``info.json``; the model
then sees a clip of that many frames drawn when a sample is read, as the
reference loaders do:

* ``sampling="uniform"``: evenly spaced over the valid frames
  (``linspace(0, L - 1, n)`` floored), deterministic — test and feature
  extraction;
* ``sampling="random"``: ``n`` frames drawn uniformly from the valid ones and
  sorted (repeats allowed, so short sequences work) — training. The draw is a
  function of ``(seed, epoch, sample)`` only, so it is the same with any
  number of loader workers and after a mid-epoch resume; the
  :class:`~skelssl.engine.trainer.Trainer` calls :meth:`set_epoch`.

A clip is chosen per sample, not per batch, because each sample has its own
valid length; it is an index into the memory map, which also reads fewer
bytes than the whole padded sequence.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from skelssl.data.canonical import PreparedDataset, check_indices, open_prepared, read_index_file

__all__ = ["SkeletonDataset", "CLIP_SAMPLING", "check_recipe", "clip_indices", "default_clip_frames", "load_clips",
           "dataset_from_config", "input_frames"]

CLIP_SAMPLING = ("uniform", "random")


def default_clip_frames(prepared: PreparedDataset) -> int | None:
    """The clip length the dataset's recipe asks for, ``None`` when samples are used whole."""
    value = (prepared.info.get("recipe") or {}).get("clip_frames")
    return None if value is None else int(value)


def input_frames(prepared: PreparedDataset, clip_frames: int | str | None = "auto") -> int:
    """Frames per sample a model sees: the clip length, else the stored length."""
    if clip_frames == "auto":
        clip_frames = default_clip_frames(prepared)
    return int(prepared.data.shape[2]) if clip_frames is None else int(clip_frames)


def clip_indices(lengths: np.ndarray, num_frames: int, sampling: str,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """``(N, num_frames)`` frame indices into the valid prefixes ``[0, lengths[n])``.

    ``uniform``: ``floor(linspace(0, L - 1, num_frames))`` (CTR-GCN's test clip).
    ``random``: ``num_frames`` uniform draws from ``[0, L)``, sorted (CTR-GCN's
    training clip: ``random.sample`` from the frame list repeated 100 times,
    which is sampling with replacement to within 1 %).
    """
    lengths = np.maximum(np.asarray(lengths, dtype=np.int64).reshape(-1), 1)
    if sampling == "uniform":
        steps = np.linspace(0.0, 1.0, num_frames)[None, :]
        return np.floor(steps * (lengths[:, None] - 1) + 1e-9).astype(np.int64)
    if sampling == "random":
        if rng is None:
            raise ValueError("random clip sampling needs a numpy Generator")
        draws = rng.random((len(lengths), num_frames))
        return np.sort(np.minimum((draws * lengths[:, None]).astype(np.int64), lengths[:, None] - 1), axis=1)
    raise ValueError(f"unknown clip sampling {sampling!r}; use one of {CLIP_SAMPLING}")


def load_clips(prepared: PreparedDataset, rows: np.ndarray, *, clip_frames: int | None = None,
               sampling: str = "uniform", rng: np.random.Generator | None = None) -> torch.Tensor:
    """A float32 batch ``(N, C, T, V, M)`` of ``rows``: whole samples, or clips of ``clip_frames``."""
    rows = np.asarray(rows, dtype=np.int64)
    if clip_frames is None:
        return torch.from_numpy(np.asarray(prepared.data[rows], dtype=np.float32))
    frames = clip_indices(prepared.meta["frames"][rows], clip_frames, sampling, rng)
    data = np.asarray(prepared.data[rows], dtype=np.float32)  # (N, C, T, V, M)
    picked = np.take_along_axis(data, frames[:, None, :, None, None], axis=2)
    return torch.from_numpy(np.ascontiguousarray(picked))


class SkeletonDataset(Dataset):
    """Samples ``(x, label, index)`` with ``x`` a float32 ``(C, T, V, M)`` tensor.

    Pick the samples with a protocol split (``protocol="xview", part="train"``),
    an index file (``indices="…/splits/semi/x.txt"``) or an index array.
    Views (motion, bone) are derived on the batch after augmentation, see
    :mod:`skelssl.data.views`, so they are not computed here.

    ``clip_frames``: ``"auto"`` (the recipe's, see the module docstring),
    ``None`` (whole stored samples) or a frame count; ``sampling``: how the
    clip is drawn (``uniform`` or ``random``); ``seed``: the random clips' seed.
    """

    def __init__(
        self,
        root: str | Path | PreparedDataset,
        protocol: str | None = None,
        part: str | None = None,
        indices: np.ndarray | str | Path | None = None,
        *,
        clip_frames: int | str | None = "auto",
        sampling: str = "uniform",
        seed: int = 0,
    ) -> None:
        self.prepared = root if isinstance(root, PreparedDataset) else open_prepared(root)
        if indices is not None and protocol is not None:
            raise ValueError("give either a protocol split or indices, not both")
        if protocol is not None:
            if part is None:
                raise ValueError("a protocol split needs a part, e.g. part='train'")
            indices = self.prepared.split(protocol, part)
        elif isinstance(indices, (str, Path)):
            indices = read_index_file(Path(indices), num_samples=len(self.prepared))
        n = len(self.prepared)
        self.indices = np.arange(n) if indices is None else check_indices(indices, n, self.prepared.root)
        if sampling not in CLIP_SAMPLING:
            raise ValueError(f"unknown clip sampling {sampling!r}; use one of {CLIP_SAMPLING}")
        if clip_frames == "auto":
            clip_frames = default_clip_frames(self.prepared)
        if clip_frames is not None and int(clip_frames) < 1:
            raise ValueError(f"clip_frames must be >= 1 or null, got {clip_frames}")
        self.clip_frames = None if clip_frames is None else int(clip_frames)
        self.sampling = sampling
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> np.ndarray:
        return self.prepared.labels[self.indices]

    @property
    def num_frames(self) -> int:
        """Frames per sample as served (the clip length, else the stored length)."""
        return self.clip_frames if self.clip_frames is not None else int(self.prepared.data.shape[2])

    def set_epoch(self, epoch: int) -> None:
        """Random clips are a function of the epoch (called by the Trainer before each epoch)."""
        self.epoch = int(epoch)

    def with_sampling(self, sampling: str) -> "SkeletonDataset":
        """The same samples with another clip sampling (e.g. ``uniform`` to cache features of a training split)."""
        if sampling not in CLIP_SAMPLING:
            raise ValueError(f"unknown clip sampling {sampling!r}; use one of {CLIP_SAMPLING}")
        other = copy.copy(self)
        other.sampling = sampling
        return other

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        k = int(self.indices[i])
        if self.clip_frames is None:
            # np.array copies out of the memory map so the tensor owns writable memory.
            x = torch.from_numpy(np.array(self.prepared.data[k], dtype=np.float32))
        else:
            rng = np.random.default_rng([self.seed, self.epoch, k]) if self.sampling == "random" else None
            frames = clip_indices(self.prepared.meta["frames"][k:k + 1], self.clip_frames, self.sampling, rng)[0]
            x = torch.from_numpy(np.array(self.prepared.data[k][:, frames], dtype=np.float32))
        return x, int(self.prepared.labels[k]), k


def check_recipe(prepared: PreparedDataset, data_cfg) -> None:
    """Refuse data prepared with another recipe than the config's ``data.recipe`` (when it names one).

    Dataset configs tune augmentation and clips to one recipe (N-UCLA's to
    ``agc_lstm``, whose min-max range the training pipeline restores); on
    other data they would train on inputs the test never sees.
    """
    get = data_cfg.get if hasattr(data_cfg, "get") else (lambda k, d=None: d)
    expected = get("recipe", None)
    actual = (prepared.info.get("recipe") or {}).get("name")
    if expected and actual and expected != actual:
        raise ValueError(f"{prepared.root}: prepared with recipe {actual!r}, but this config is for {expected!r} "
                         f"data (data.recipe); prepare it with --recipe {expected}, or pass data.recipe=null to use "
                         "it as it is")


def dataset_from_config(
    prepared: PreparedDataset,
    data_cfg,
    *,
    train: bool,
    protocol: str | None = None,
    part: str | None = None,
    indices: np.ndarray | str | Path | None = None,
    seed: int = 0,
) -> SkeletonDataset:
    """The dataset a config's ``data`` section asks for: ``clip_frames``, and ``train_clip`` when ``train``.

    Test and feature-extraction sets always take uniform clips.
    """
    check_recipe(prepared, data_cfg)
    get = data_cfg.get if hasattr(data_cfg, "get") else (lambda k, d=None: d)
    sampling = str(get("train_clip", "random")) if train else "uniform"
    return SkeletonDataset(prepared, protocol=protocol, part=part, indices=indices,
                           clip_frames=get("clip_frames", "auto"), sampling=sampling, seed=seed)
