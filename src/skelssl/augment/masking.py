"""Masking for inpainting / masked-motion pretext tasks."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from skelssl.augment.base import (
    Params,
    RandomOp,
    bernoulli,
    check_batch,
    gen_device,
    rand,
    register_transform,
    resolve_lengths,
    to_device,
)

__all__ = ["InpaintingMask", "MaskResult"]


class MaskResult(NamedTuple):
    """``x`` with hidden entries set to ``mask_value``; ``mask`` ``(N, 1, T, V, 1)`` bool, True = hidden.

    The mask broadcasts against ``(N, C, T, V, M)``: a hidden (frame, joint)
    is hidden in every channel and for every body.
    """

    x: Tensor
    mask: Tensor


def _lowest_k(keys: Tensor, k: Tensor) -> Tensor:
    """Bool mask of the ``k[n]`` smallest keys in each row."""
    ranks = keys.argsort(dim=1).argsort(dim=1)
    return ranks < k[:, None]


@register_transform("inpaint_mask")
class InpaintingMask(RandomOp):
    """Hides random frames, joints and (frame, joint) cells of the valid clip.

    Per sample with valid length L, exactly ``round(frame_ratio * L)`` frames,
    ``round(joint_ratio * V)`` joints (in every frame) and
    ``round(cell_ratio * L * V)`` individual cells are drawn uniformly without
    replacement; the mask is their union, restricted to the valid frames.
    Samples not drawn (probability ``1 - p``) get an empty mask.
    Params: ``mask`` ``(N, T, V)`` bool.
    """

    def __init__(
        self,
        frame_ratio: float = 0.0,
        joint_ratio: float = 0.0,
        cell_ratio: float = 0.0,
        mask_value: float = 0.0,
        p: float = 1.0,
    ) -> None:
        super().__init__(p)
        for name, r in (("frame_ratio", frame_ratio), ("joint_ratio", joint_ratio), ("cell_ratio", cell_ratio)):
            if not 0.0 <= r <= 1.0:
                raise ValueError(f"InpaintingMask: {name} must be in [0, 1], got {r}")
        if frame_ratio == joint_ratio == cell_ratio == 0.0:
            raise ValueError("InpaintingMask: set at least one of frame_ratio, joint_ratio, cell_ratio")
        self.frame_ratio = float(frame_ratio)
        self.joint_ratio = float(joint_ratio)
        self.cell_ratio = float(cell_ratio)
        self.mask_value = float(mask_value)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        check_batch(x)
        n, _, t_len, v, _ = x.shape
        dev = gen_device(generator)
        length = resolve_lengths(lengths, x).to(dev)
        t = torch.arange(t_len, device=dev)[None, :]
        valid = t < length[:, None]  # (N, T)
        mask = torch.zeros(n, t_len, v, dtype=torch.bool, device=dev)
        if self.frame_ratio > 0:
            k = torch.floor(self.frame_ratio * length.double() + 0.5).long()
            keys = torch.where(valid, rand((n, t_len), generator), 2.0)
            mask |= _lowest_k(keys, k)[:, :, None]
        if self.joint_ratio > 0:
            k = torch.full((n,), int(self.joint_ratio * v + 0.5), device=dev)
            mask |= _lowest_k(rand((n, v), generator), k)[:, None, :]
        if self.cell_ratio > 0:
            k = torch.floor(self.cell_ratio * (length * v).double() + 0.5).long()
            keys = torch.where(valid[:, :, None], rand((n, t_len, v), generator), 2.0)
            mask |= _lowest_k(keys.view(n, t_len * v), k).view(n, t_len, v)
        mask &= valid[:, :, None] & bernoulli(self.p, n, generator)[:, None, None]
        return to_device({"mask": mask}, x)

    def apply(self, x: Tensor, params: Params, lengths: Tensor | None = None) -> MaskResult:
        check_batch(x)
        mask = params["mask"][:, None, :, :, None]
        return MaskResult(x.masked_fill(mask, self.mask_value), mask)

    def __call__(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> MaskResult:
        return super().__call__(x, generator, lengths)

    def _config(self) -> dict[str, Any]:
        return {
            "frame_ratio": self.frame_ratio,
            "joint_ratio": self.joint_ratio,
            "cell_ratio": self.cell_ratio,
            "mask_value": self.mask_value,
            "p": self.p,
        }
