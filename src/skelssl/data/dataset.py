"""A PyTorch dataset over the canonical format (memory-mapped, no copies up front)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from skelssl.data.canonical import PreparedDataset, check_indices, open_prepared, read_index_file

__all__ = ["SkeletonDataset"]


class SkeletonDataset(Dataset):
    """Samples ``(x, label, index)`` with ``x`` a float32 ``(C, T, V, M)`` tensor.

    Pick the samples with a protocol split (``protocol="xview", part="train"``),
    an index file (``indices="…/splits/semi/x.txt"``) or an index array.
    Views (motion, bone) are derived on the batch after augmentation, see
    :mod:`skelssl.data.views`, so they are not computed here.
    """

    def __init__(
        self,
        root: str | Path | PreparedDataset,
        protocol: str | None = None,
        part: str | None = None,
        indices: np.ndarray | str | Path | None = None,
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

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def labels(self) -> np.ndarray:
        return self.prepared.labels[self.indices]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        k = int(self.indices[i])
        # np.array copies out of the memory map so the tensor owns writable memory.
        x = torch.from_numpy(np.array(self.prepared.data[k], dtype=np.float32))
        return x, int(self.prepared.labels[k]), k
