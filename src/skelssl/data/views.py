"""Views (modalities) of a skeleton tensor: joint, motion, bone, bone motion.

Computed on tensors, from any layout's bone list, so methods can derive them
after augmentation (CrosSCLR's cross-view mining, multi-stream ensembles).
Inputs are ``(N, C, T, V, M)`` or a single sample ``(C, T, V, M)``: frames are
always axis -3 and joints axis -2.
"""

from __future__ import annotations

import torch

from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = ["VIEWS", "motion", "bone", "bone_motion", "to_view"]

VIEWS = ("joint", "motion", "bone", "bone_motion")


def motion(x: torch.Tensor) -> torch.Tensor:
    """Frame difference ``x[t+1] - x[t]``; the last frame's motion is zero (CrosSCLR's convention)."""
    out = torch.zeros_like(x)
    out[..., :-1, :, :] = x[..., 1:, :, :] - x[..., :-1, :, :]
    return out


def bone(x: torch.Tensor, layout: str | SkeletonLayout) -> torch.Tensor:
    """Joint minus its parent joint; the centre joint (the tree's root) gets a zero bone."""
    layout = get_layout(layout)
    if x.shape[-2] != layout.num_joints:
        raise ValueError(f"bone view: tensor has {x.shape[-2]} joints, layout {layout.name!r} has {layout.num_joints}")
    parents = torch.as_tensor(layout.parents, device=x.device)
    return x - x.index_select(-2, parents)


def bone_motion(x: torch.Tensor, layout: str | SkeletonLayout) -> torch.Tensor:
    return motion(bone(x, layout))


def to_view(x: torch.Tensor, view: str, layout: str | SkeletonLayout) -> torch.Tensor:
    """Return the requested view of joint coordinates ``x``."""
    if view == "joint":
        return x
    if view == "motion":
        return motion(x)
    if view == "bone":
        return bone(x, layout)
    if view == "bone_motion":
        return bone_motion(x, layout)
    raise ValueError(f"unknown view {view!r}; choose from {VIEWS}")
