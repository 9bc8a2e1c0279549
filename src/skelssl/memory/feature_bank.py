"""A per-sample feature bank: one row per dataset sample, overwritten as the sample is seen.

ASSL finds each sample's neighbours among the *current* features of the whole
unlabeled set; recomputing them every step would cost a full pass, so the bank
keeps the last feature computed for every sample (refreshed whenever it
appears in a batch, all rows filled by one pass before training). Its rows are
buffers, so they travel in ``state_dict`` and a resumed run finds the same
neighbours.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FeatureBank"]


class FeatureBank(nn.Module):
    """``features`` ``(size, dim)`` with a ``filled`` mask and a per-row ``label`` (-1 = unknown)."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"FeatureBank needs size >= 1 and dim >= 1, got {size} x {dim}")
        self.register_buffer("features", torch.zeros(size, dim))
        self.register_buffer("filled", torch.zeros(size, dtype=torch.bool))
        self.register_buffer("label", torch.full((size,), -1, dtype=torch.long))

    @property
    def size(self) -> int:
        return self.features.shape[0]

    @torch.no_grad()
    def update(self, index: Tensor, features: Tensor) -> None:
        """Overwrite rows ``index`` ``(N,)`` with ``features`` ``(N, dim)`` (detached)."""
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.size):
            raise IndexError(f"FeatureBank: index outside 0..{self.size - 1}")
        self.features[index] = features.detach().to(self.features.dtype)
        self.filled[index] = True

    @torch.no_grad()
    def set_labels(self, index: Tensor, labels: Tensor) -> None:
        self.label[index] = labels.to(self.label.dtype)
