r"""ActCLR's unsupervised actionlet (eq. 3–5), semantic-aware feature pooling (eq. 8) and MATS combination (eq. 7).

Lin, Zhang, Liu, "Actionlet-dependent contrastive learning for unsupervised
skeleton-based action recognition", CVPR 2023, §3.

Difference activation mapping (:class:`ActionletExtractor`)
-----------------------------------------------------------
For a sequence ``X`` and the static anchor ``X̄`` (the training set's average
motion) the offline encoder gives dense maps ``h = f_k(X)``, ``h̄ = f_k(X̄)``
of shape ``(M, C, T', V)`` and projections ``z = g_k(GAP(h))``,
``z̄ = g_k(GAP(h̄))``. Then::

    Δh_ctv = ∂(−sim(z, z̄)) / ∂h_ctv                        (eq. 4, z̄ held fixed)
    α_c    = mean_{m,t,v} σ₁(Δh_mctv)                       (difference-activation weights)
    A_mtv  = [ σ₂(Σ_c α_c h_mctv) G ]_v                      (eq. 5, G: joint smoothing)
    actionlet = { (m, t, v) : A_mtv > threshold · max A }

The paper leaves σ₁, σ₂ and the threshold open; we take them from the released
code (``net/st_gcn.py``, ``_generate_mask``): σ₁ is the identity (the gradient
is averaged as it is, as in Grad-CAM), σ₂ is ReLU, and a cell belongs to the
actionlet as soon as its activation is positive (the release scales by 1e8 and
clips to [0, 1]); ``threshold`` is a fraction of each sample's maximum, so 0
is the release's rule. G is the skeleton's adjacency with self-loops,
column-normalised (each joint takes the mean of itself and its neighbours,
the paper's "importance smoothing"); the release averages over the five body
parts instead (``smoothing="body_parts"``). The gradient is computed for the
whole batch with one ``autograd.grad`` call: every sample's similarity depends
only on its own map (GAP and the projector act per sample), so the gradient of
the summed similarities is each sample's own gradient.

The dense map is ``T'`` steps long, the input ``T`` frames (ST-GCN: two
stride-2 blocks, ``T' = ⌈T/4⌉``, dense step ``t'`` centred on frame ``≈ 4t'``).
:func:`to_input_frames` brings a ``(…, T', V)`` actionlet to the input's frames
by linear interpolation in time with the end points aligned
(``align_corners=True``: frame 0 ↔ step 0, frame ``T−1`` ↔ step ``T'−1``),
as the release does (``F.interpolate(..., mode="bilinear", align_corners=True)``
over ``(T, V)``, which is linear in time and the identity over joints). A
binary actionlet therefore becomes soft (values between 0 and 1) only at the
frames between a step inside and a step outside it.

SAFP (eq. 8, :func:`safp`) is the actionlet-weighted mean of the dense map;
eq. 7 (:func:`combine_regions`) mixes the actionlet and non-actionlet
transformations of a sequence with the actionlet as the weight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = ["Actionlet", "ActionletExtractor", "smoothing_matrix", "to_input_frames", "safp", "combine_regions",
           "SMOOTHING"]

SMOOTHING = ("adjacency", "body_parts", "none")


class Actionlet(NamedTuple):
    """An actionlet on the dense grid: ``weights`` ``(N, C)`` (α), ``activation`` and ``mask`` ``(N, M, T', V)``."""

    weights: Tensor
    activation: Tensor
    mask: Tensor


def smoothing_matrix(layout: str | SkeletonLayout, mode: str = "adjacency") -> Tensor:
    """``G`` ``(V, V)``: ``(A G)[v'] = Σ_v A[v] G[v, v']``; columns sum to one.

    ``adjacency``: the mean over each joint and its graph neighbours;
    ``body_parts``: the mean over the joint's body part (trunk, arms, legs);
    ``none``: the identity.
    """
    layout = get_layout(layout)
    v = layout.num_joints
    if mode == "none":
        return torch.eye(v)
    if mode == "adjacency":
        from skelssl.data.graph import partition_adjacency

        return torch.from_numpy(partition_adjacency(layout, "uniform", max_hop=1)[0]).float()
    if mode == "body_parts":
        from skelssl.augment.mixing import body_parts

        g = torch.zeros(v, v)
        for joints in body_parts(layout).values():
            idx = torch.tensor(joints)
            g[idx[:, None], idx[None, :]] = 1.0 / len(joints)
        return g
    raise ValueError(f"unknown actionlet smoothing {mode!r}; choose from {SMOOTHING}")


class ActionletExtractor(nn.Module):
    """Eq. 3–5 on dense maps; ``forward(dense, anchor_z, head)`` returns an :class:`Actionlet`.

    Args:
        layout: skeleton layout (for ``G``).
        smoothing: ``adjacency`` (the paper's G), ``body_parts`` (the release) or ``none``.
        threshold: a cell is in the actionlet when its activation exceeds this
            fraction of the sample's largest activation (and is positive).
        gradient_activation: σ₁ of eq. 4, ``identity`` (the release) or ``relu``.
    """

    def __init__(self, layout: str | SkeletonLayout, smoothing: str = "adjacency", threshold: float = 0.0,
                 gradient_activation: str = "identity") -> None:
        super().__init__()
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"actionlet threshold must be in [0, 1), got {threshold}")
        if gradient_activation not in ("identity", "relu"):
            raise ValueError(f"gradient_activation must be 'identity' or 'relu', got {gradient_activation!r}")
        self.smoothing = smoothing
        self.threshold = float(threshold)
        self.gradient_activation = gradient_activation
        self.register_buffer("G", smoothing_matrix(layout, smoothing), persistent=False)

    def weights(self, dense: Tensor, anchor_z: Tensor, head: Callable[[Tensor], Tensor]) -> Tensor:
        """α ``(N, C)`` (eq. 4): the mean over persons, time and joints of σ₁(∂(−sim(z, z̄))/∂h)."""
        with torch.enable_grad():
            h = dense.detach().float().requires_grad_(True)
            z = head(h)
            sim = F.cosine_similarity(z.float(), anchor_z.detach().float().expand_as(z), dim=1)
            (grad,) = torch.autograd.grad(-sim.sum(), h)
        if self.gradient_activation == "relu":
            grad = grad.relu()
        return grad.mean(dim=(1, 3, 4))

    def activation(self, dense: Tensor, alpha: Tensor) -> Tensor:
        """``σ₂(Σ_c α_c h) G`` ``(N, M, T', V)`` (eq. 5 before the threshold)."""
        cam = torch.einsum("nmctv,nc->nmtv", dense.detach().float(), alpha.float()).relu()
        return cam @ self.G.to(cam.dtype)

    def mask(self, activation: Tensor) -> Tensor:
        """The binary actionlet (float 0/1) of an activation map: above ``threshold`` × the sample's maximum."""
        peak = activation.flatten(1).amax(dim=1).view(-1, *([1] * (activation.dim() - 1)))
        return ((activation > self.threshold * peak) & (activation > 0)).to(activation.dtype)

    def forward(self, dense: Tensor, anchor_z: Tensor, head: Callable[[Tensor], Tensor]) -> Actionlet:
        alpha = self.weights(dense, anchor_z, head)
        act = self.activation(dense, alpha)
        return Actionlet(alpha, act, self.mask(act))

    def extra_repr(self) -> str:
        return (f"smoothing={self.smoothing!r}, threshold={self.threshold}, "
                f"gradient_activation={self.gradient_activation!r}")


def to_input_frames(mask: Tensor, num_frames: int) -> Tensor:
    """A dense-grid actionlet ``(N, M, T', V)`` at the input's ``num_frames`` frames, as ``(N, 1, T, V, M)``.

    Linear interpolation in time with the end points aligned (see the module docstring).
    """
    n, m, t_dense, v = mask.shape
    flat = mask.permute(0, 1, 3, 2).reshape(n, m * v, t_dense)
    if t_dense == 1:
        up = flat.expand(n, m * v, num_frames)
    else:
        up = F.interpolate(flat, size=num_frames, mode="linear", align_corners=True)
    return up.reshape(n, m, v, num_frames).permute(0, 3, 2, 1).unsqueeze(1)


def safp(dense: Tensor, mask: Tensor) -> Tensor:
    """Semantic-aware feature pooling (eq. 8): ``Σ_{m,t,v} h · A / Σ_{m,t,v} A`` per sample, ``(N, C)``.

    ``dense`` ``(N, M, C, T', V)``, ``mask`` ``(N, M, T', V)``. The weights run
    over both bodies' cells (an absent body has no actionlet and adds
    nothing); a sample without any actionlet cell gets the plain average (GAP).
    """
    w = mask.to(dense.dtype)
    total = w.sum(dim=(1, 2, 3))
    empty = total <= 0
    w = torch.where(empty[:, None, None, None], torch.ones_like(w), w)
    pooled = torch.einsum("nmctv,nmtv->nc", dense, w)
    return pooled / w.sum(dim=(1, 2, 3))[:, None]


def combine_regions(x_act: Tensor, x_non: Tensor, actionlet: Tensor) -> Tensor:
    """Eq. 7: ``A ⊙ X_act + (1 − A) ⊙ X_non``; ``actionlet`` broadcasts against ``(N, C, T, V, M)``."""
    a = actionlet.to(x_act.dtype)
    return a * x_act + (1.0 - a) * x_non
