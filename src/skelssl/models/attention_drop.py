"""AimCLR's energy-based attention-guided drop module (EADM, Guo et al., AAAI 2022, §3.3).

EADM acts on an encoder's dense map and drops the features a SimAM energy
function marks as the most salient, so the extremely augmented view must be
recognised from what is left. For every channel of every sample (statistics
over the ``T' x V`` cells of that channel)::

    d     = (h - mean_tv h)^2
    e     = d / (4 (sum_tv d / (T'V - 1) + lambda)) + 0.5       (SimAM's inverse energy)
    att   = sigmoid(e)                                          in [0.62, 1)

* spatial drop: ``att`` averaged over channels and time gives one score per
  joint; joints scoring ``>= keep_prob`` are zeroed in every channel and frame;
* temporal drop: every ``(channel, frame, joint)`` cell whose own ``att`` is
  ``>= keep_prob`` is zeroed;

each followed by the rescaling ``numel / kept`` of DropBlock (over the whole
batch, as the released ``net/att_drop.py`` does), so the expected magnitude
is kept. The masks come from comparisons, so no gradient flows through them;
the kept features carry their gradient. ``keep_prob`` is the released code's
name for the threshold (0.7); with ``att >= 0.62`` always, a cell is dropped
when its squared deviation exceeds about 1.39 times its channel's variance.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["EnergyAttentionDrop", "simam_attention"]


def simam_attention(x: Tensor, e_lambda: float = 1e-4) -> Tensor:
    """SimAM attention ``sigmoid(e)`` of ``(B, C, T, V)`` features, statistics per sample and channel."""
    t, v = x.shape[-2:]
    n = max(t * v - 1, 1)
    d = (x - x.mean(dim=(-2, -1), keepdim=True)).pow(2)
    e = d / (4.0 * (d.sum(dim=(-2, -1), keepdim=True) / n + e_lambda)) + 0.5
    return torch.sigmoid(e)


class EnergyAttentionDrop(nn.Module):
    """EADM on a dense map ``(N, M, D, T', V)`` (or ``(B, D, T', V)``); returns the map with salient features dropped.

    Args:
        keep_prob: attention threshold; cells (and joints) with attention at or above it are dropped.
        e_lambda: SimAM's regulariser λ.
    """

    def __init__(self, keep_prob: float = 0.7, e_lambda: float = 1e-4) -> None:
        super().__init__()
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
        self.keep_prob = float(keep_prob)
        self.e_lambda = float(e_lambda)

    def masks(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(joint_keep (B, 1, 1, V), cell_keep (B, D, T', V))`` as 0/1 floats for ``(B, D, T', V)`` features."""
        with torch.no_grad():
            att = simam_attention(x.detach().float(), self.e_lambda)
            joint_keep = (att.mean(dim=(1, 2)) < self.keep_prob).to(x.dtype)[:, None, None, :]
            cell_keep = (att < self.keep_prob).to(x.dtype)
        return joint_keep, cell_keep

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        flat = x.reshape(-1, *shape[-3:])  # persons folded into the batch, as the encoders do
        joint_keep, cell_keep = self.masks(flat)
        out = flat * (joint_keep * (joint_keep.numel() / joint_keep.sum().clamp_min(1.0)))
        out = out * (cell_keep * (cell_keep.numel() / cell_keep.sum().clamp_min(1.0)))
        return out.reshape(shape)

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}, e_lambda={self.e_lambda}"
