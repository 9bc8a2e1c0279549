"""Cross-sample augmentations: skeleton AdaIN and mixing (Mixup, CutMix, ResizeMix).

Each sample n is paired with ``index[n]``, drawn uniformly among the *other*
samples of the batch (``(n + 1 + k) mod N`` with ``k`` uniform in
``[0, N - 2]``), so no sample is paired with itself when ``N > 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from skelssl.augment.base import (
    Params,
    RandomOp,
    Transform,
    bernoulli,
    check_batch,
    coordinate_dims,
    gather_frames,
    gen_device,
    layout_or_none,
    numpy_seed,
    pair,
    rand,
    randint_below,
    register_transform,
    resolve_lengths,
    to_device,
    uniform,
)
from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = ["SkeletonAdaIN", "SkeletonMix", "RandomSkeletonMix", "MixResult", "body_parts", "sample_partners"]

BODY_PARTS = ("trunk", "left_arm", "right_arm", "left_leg", "right_leg")
_PART_ROOTS = {
    "left_arm": "left_shoulder",
    "right_arm": "right_shoulder",
    "left_leg": "left_hip",
    "right_leg": "right_hip",
}


def body_parts(layout: SkeletonLayout | str) -> dict[str, tuple[int, ...]]:
    """Splits a layout's joints into trunk, arms and legs.

    Each joint belongs to the nearest limb root (the ``left_shoulder``,
    ``right_shoulder``, ``left_hip``, ``right_hip`` roles) on its path up the
    bone tree, or to the trunk if it reaches the centre first. Walking up
    rather than taking subtrees keeps this right for trees such as openpose18,
    where the hips hang off the shoulders.
    """
    layout = get_layout(layout)
    roots = {}
    for part, role in _PART_ROOTS.items():
        roots[layout.role(role)] = part
    parents = layout.parents
    members: dict[str, list[int]] = {p: [] for p in BODY_PARTS}
    for j in range(layout.num_joints):
        k = j
        while k not in roots and k != layout.center:
            k = int(parents[k])
        members[roots.get(k, "trunk")].append(j)
    return {p: tuple(js) for p, js in members.items()}


def sample_partners(n: int, generator: torch.Generator | None) -> Tensor:
    """A uniformly random *other* sample for each of n samples (itself when n == 1)."""
    dev = gen_device(generator)
    if n == 1:
        return torch.zeros(1, dtype=torch.long, device=dev)
    k = randint_below(torch.full((n,), n - 1, device=dev), generator)
    return torch.remainder(torch.arange(n, device=dev) + 1 + k, n)


def _present_bodies(x: Tensor) -> Tensor:
    """``(N, M)``: body m of sample n has a non-zero coordinate somewhere."""
    return (x != 0).flatten(1, 3).any(dim=1)


@register_transform("adain")
class SkeletonAdaIN(Transform):
    """Skeleton AdaIN: re-styles each sample with the statistics of a partner sample.

    For each sample, body and coordinate channel c (statistics over the valid
    frames only):

    * spatial mean ``mu[c, t] = mean_v x[c, t, v]`` — the body's per-frame
      centroid, i.e. its trajectory;
    * residual ``r = x - mu`` — the pose relative to that centroid;
    * temporal mean ``nu[c, v]`` and (population) temporal std ``sd[c, v]`` of
      ``r`` over frames — each joint's mean offset and motion amplitude.

    The output keeps the sample's normalised motion and takes the partner's
    trajectory and/or motion amplitude::

        out = (r - nu) * sd' / (sd + eps) + nu + mu'
        sd' = (1 - a) * sd + a * sd[partner]      (swap_std; otherwise the factor is 1)
        mu' = (1 - a) * mu + a * mu[partner]      (swap_mean; otherwise mu' = mu)

    with ``a`` uniform in ``alpha`` (default exactly 1: a full swap). The
    partner's trajectory is read at frame ``t mod L_partner`` so clips of
    different valid length still align frame by frame. A body is only
    re-styled if it is present (non-zero) in both samples; frames past the
    valid length are left as they are. Non-coordinate channels (openpose
    scores) are untouched.

    Params: ``partner`` ``(N,)``, ``alpha`` ``(N,)``, ``on`` ``(N,)`` bool.
    """

    def __init__(
        self,
        swap_mean: bool = True,
        swap_std: bool = True,
        alpha: Sequence[float] = (1.0, 1.0),
        eps: float = 1e-6,
        p: float = 0.5,
        layout: SkeletonLayout | str | None = None,
    ) -> None:
        super().__init__(p)
        if not (swap_mean or swap_std):
            raise ValueError("SkeletonAdaIN: at least one of swap_mean, swap_std must be true")
        self.swap_mean = bool(swap_mean)
        self.swap_std = bool(swap_std)
        self.alpha = pair(alpha, "SkeletonAdaIN alpha")
        self.eps = float(eps)
        self.layout = layout_or_none(layout)

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n = x.shape[0]
        partner = sample_partners(n, generator)
        alpha = uniform(self.alpha[0], self.alpha[1], (n,), generator)
        on = bernoulli(self.p, n, generator)
        return to_device({"partner": partner, "alpha": alpha, "on": on}, x)

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        n, c, t_len, v, m = x.shape
        d = coordinate_dims(self.layout, c)
        partner, on = params["partner"], params["on"]
        a = params["alpha"][:, None, None, None, None]
        coords = x[:, :d]
        length = resolve_lengths(lengths, x)
        t = torch.arange(t_len, device=x.device)
        valid = (t[None, :] < length[:, None]).to(x.dtype)[:, None, :, None, None]  # (N,1,T,1,1)
        count = length.to(x.dtype)[:, None, None, None, None]

        mu = coords.mean(dim=3, keepdim=True)  # (N, D, T, 1, M)
        r = coords - mu
        nu = (r * valid).sum(dim=2, keepdim=True) / count  # (N, D, 1, V, M)
        sd = (((r - nu) ** 2 * valid).sum(dim=2, keepdim=True) / count).sqrt()

        if self.swap_std:
            new_sd = (1 - a) * sd + a * sd[partner]
            centred = (r - nu) * (new_sd / (sd + self.eps))
        else:
            centred = r - nu
        if self.swap_mean:
            loop = torch.remainder(t[None, :], length[partner][:, None])
            mu_partner = gather_frames(mu[partner].contiguous(), loop)
            new_mu = (1 - a) * mu + a * mu_partner
        else:
            new_mu = mu
        styled = centred + nu + new_mu

        present = _present_bodies(coords)
        keep = on[:, None] & present & present[partner]  # (N, M)
        mask = keep[:, None, None, None, :] & (valid > 0)
        out = torch.where(mask, styled, coords)
        if d == c:
            return out
        return torch.cat([out, x[:, d:]], dim=1)

    def _config(self) -> dict[str, Any]:
        return {"swap_mean": self.swap_mean, "swap_std": self.swap_std, "alpha": self.alpha, "p": self.p}


class MixResult(NamedTuple):
    """Mixed batch plus what a method needs to mix labels/targets.

    ``target = lam * target + (1 - lam) * target[index]``; ``lam`` is the
    share of each output that comes from the original sample (1 where the
    sample was not mixed).
    """

    x: Tensor
    lam: Tensor
    index: Tensor


@register_transform("skeleton_mix")
class SkeletonMix(RandomOp):
    """Mixup, CutMix (joints, body parts or frames) and ResizeMix between batch samples.

    Modes (``lam0 ~ Beta(alpha, alpha)`` per sample):

    ``mixup``
        ``out = lam0 * x + (1 - lam0) * x[index]``.
    ``cutmix_joints``
        ``round((1 - lam0) * V)`` random joints come from the partner (all frames).
    ``cutmix_parts``
        each body part (:func:`body_parts`: trunk, arms, legs) independently
        comes from the partner with probability ``1 - lam0``.
    ``cutmix_frames``
        a contiguous run of ``round((1 - lam0) * T)`` frames, uniform start,
        comes from the partner.
    ``resizemix``
        the whole partner clip, linearly resized to ``k = round(s * T)`` frames
        (``s`` uniform in ``scale``, k at least 1), is pasted over frames
        ``[start, start + k)`` of the sample (uniform start).

    The returned ``lam`` is the exact share of the original (``1 - replaced
    joints / V`` or ``1 - replaced frames / T`` for the cut modes). Mixing
    assumes full-length clips: ``lengths`` is not accepted. Not a
    :class:`~skelssl.augment.base.Transform` (it returns a :class:`MixResult`),
    so it is called directly rather than inside a pipeline.

    Beta draws come from a NumPy generator seeded by one draw of the torch
    generator (torch's Beta sampler takes no generator); ``alpha == 1`` uses
    plain uniforms.
    """

    MODES = ("mixup", "cutmix_joints", "cutmix_parts", "cutmix_frames", "resizemix")

    def __init__(
        self,
        mode: str = "mixup",
        alpha: float = 1.0,
        scale: Sequence[float] = (0.1, 0.8),
        p: float = 1.0,
        layout: SkeletonLayout | str | None = None,
    ) -> None:
        super().__init__(p)
        if mode not in self.MODES:
            raise ValueError(f"SkeletonMix: unknown mode {mode!r}; use one of {self.MODES}")
        if alpha <= 0:
            raise ValueError(f"SkeletonMix: alpha must be > 0, got {alpha}")
        self.mode = mode
        self.alpha = float(alpha)
        self.scale = pair(scale, "SkeletonMix scale")
        if not (0 < self.scale[0] and self.scale[1] <= 1):
            raise ValueError(f"SkeletonMix: scale must lie in (0, 1], got {self.scale}")
        self.layout = layout_or_none(layout)
        self._parts: Tensor | None = None
        if mode == "cutmix_parts":
            if self.layout is None:
                raise ValueError("SkeletonMix(mode='cutmix_parts') needs a layout")
            member = torch.zeros(len(BODY_PARTS), self.layout.num_joints, dtype=torch.bool)
            for i, joints in enumerate(body_parts(self.layout).values()):
                member[i, list(joints)] = True
            self._parts = member

    def _beta(self, n: int, generator: torch.Generator | None) -> Tensor:
        if self.alpha == 1.0:
            return rand((n,), generator)
        rng = np.random.default_rng(numpy_seed(generator))
        lam = rng.beta(self.alpha, self.alpha, size=n).astype(np.float32)
        return torch.from_numpy(lam).to(gen_device(generator))

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        if lengths is not None:
            raise ValueError("SkeletonMix assumes full-length clips; resample to a common length first")
        check_batch(x)
        n, _, t_len, v, _ = x.shape
        dev = gen_device(generator)
        partner = sample_partners(n, generator)
        on = bernoulli(self.p, n, generator)
        params: Params = {"partner": partner}
        if self.mode == "resizemix":
            s = uniform(self.scale[0], self.scale[1], (n,), generator)
            size = torch.floor(s * t_len + 0.5).long().clamp(1, t_len)
            start = randint_below(t_len - size + 1, generator)
            size = size * on
            params.update(start=start, size=size, lam=1 - size.float() / t_len)
            return to_device(params, x)
        lam0 = self._beta(n, generator)
        if self.mode == "mixup":
            params["lam"] = torch.where(on, lam0, torch.ones_like(lam0))
        elif self.mode == "cutmix_joints":
            k = torch.floor((1 - lam0) * v + 0.5).long() * on
            ranks = rand((n, v), generator).argsort(1).argsort(1)
            joint_mask = ranks < k[:, None]
            params.update(joint_mask=joint_mask, lam=1 - k.float() / v)
        elif self.mode == "cutmix_parts":
            if v != self._parts.shape[1]:
                raise ValueError(f"SkeletonMix: layout has {self._parts.shape[1]} joints, batch has V={v}")
            take = rand((n, self._parts.shape[0]), generator) < (1 - lam0)[:, None]
            take = take & on[:, None]
            joint_mask = (take[:, :, None] & self._parts.to(dev)[None]).any(1)
            params.update(joint_mask=joint_mask, lam=1 - joint_mask.sum(1).float() / v)
        else:  # cutmix_frames
            k = torch.floor((1 - lam0) * t_len + 0.5).long() * on
            start = randint_below(t_len - k + 1, generator)
            t = torch.arange(t_len, device=dev)[None, :]
            frame_mask = (t >= start[:, None]) & (t < (start + k)[:, None])
            params.update(frame_mask=frame_mask, lam=1 - k.float() / t_len)
        return to_device(params, x)

    def apply(self, x: Tensor, params: Params, lengths: Tensor | None = None) -> MixResult:
        check_batch(x)
        if lengths is not None:
            raise ValueError("SkeletonMix assumes full-length clips; resample to a common length first")
        partner, lam = params["partner"], params["lam"]
        other = x.index_select(0, partner)
        if self.mode == "mixup":
            w = lam[:, None, None, None, None]
            out = w * x + (1 - w) * other
        elif self.mode in ("cutmix_joints", "cutmix_parts"):
            out = torch.where(params["joint_mask"][:, None, None, :, None], other, x)
        elif self.mode == "cutmix_frames":
            out = torch.where(params["frame_mask"][:, None, :, None, None], other, x)
        else:
            out = self._resize_paste(x, other, params["start"], params["size"])
        return MixResult(out, lam, partner)

    @staticmethod
    def _resize_paste(x: Tensor, other: Tensor, start: Tensor, size: Tensor) -> Tensor:
        t_len = x.shape[2]
        t = torch.arange(t_len, device=x.device, dtype=x.dtype)[None, :]
        sz = size.clamp_min(1).to(x.dtype)[:, None]
        # Resize grid of F.interpolate(align_corners=False), per-sample target size.
        src = ((t - start.to(x.dtype)[:, None] + 0.5) * (t_len / sz) - 0.5).clamp(0, t_len - 1)
        i0 = src.floor().long()
        i1 = (i0 + 1).clamp_max(t_len - 1)
        w = (src - i0.to(x.dtype))[:, None, :, None, None]
        pasted = torch.lerp(gather_frames(other, i0), gather_frames(other, i1), w)
        tl = torch.arange(t_len, device=x.device)[None, :]
        inside = (tl >= start[:, None]) & (tl < (start + size)[:, None])
        return torch.where(inside[:, None, :, None, None], pasted, x)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None) -> MixResult:
        return super().__call__(x, generator, lengths)

    def _config(self) -> dict[str, Any]:
        return {"mode": self.mode, "alpha": self.alpha, "scale": self.scale, "p": self.p}


@register_transform("random_skeleton_mix")
class RandomSkeletonMix(Transform):
    """Skeleton Mix as one batch → batch step: each sample is mixed by one of several :class:`SkeletonMix` modes.

    ActCLR's non-actionlet "Skeleton Mix" (Mixup, CutMix or ResizeMix). The
    mode is drawn per sample with ``probs`` (default: the released code's
    1/4 Mixup, 1/2 CutMix, 1/4 ResizeMix); every mode draws its own partners
    and amounts. Only the mixed batch is returned (no label mixing: it is a
    self-supervised augmentation). Params: ``mode`` ``(N,)`` (index into
    ``modes``, -1 where not applied) and each mode's params under ``"<i>/<key>"``.
    """

    def __init__(
        self,
        modes: Sequence[str] = ("mixup", "cutmix_parts", "resizemix"),
        probs: Sequence[float] | None = None,
        alpha: float = 1.0,
        scale: Sequence[float] = (0.1, 0.8),
        p: float = 1.0,
        layout: SkeletonLayout | str | None = None,
    ) -> None:
        super().__init__(p)
        modes = tuple(modes)
        if not modes:
            raise ValueError("RandomSkeletonMix: give at least one mode")
        if probs is None:
            probs = [1.0 / len(modes)] * len(modes)
        probs = [float(q) for q in probs]
        if len(probs) != len(modes) or any(q < 0 for q in probs) or sum(probs) <= 0:
            raise ValueError(f"RandomSkeletonMix: probs must be {len(modes)} non-negative weights, got {probs}")
        self.modes = modes
        self.probs = tuple(q / sum(probs) for q in probs)
        self.mixes = [SkeletonMix(mode=m, alpha=alpha, scale=scale, p=1.0, layout=layout) for m in modes]

    def sample_params(
        self, x: Tensor, generator: torch.Generator | None = None, lengths: Tensor | None = None
    ) -> Params:
        n = x.shape[0]
        dev = gen_device(generator)
        cdf = torch.tensor(self.probs, device=dev, dtype=torch.float64).cumsum(0)
        mode = torch.searchsorted(cdf, rand((n,), generator).double(), right=True).clamp_max(len(self.modes) - 1)
        mode = torch.where(bernoulli(self.p, n, generator), mode, -1)
        params: Params = to_device({"mode": mode}, x)
        for i, mix in enumerate(self.mixes):
            params.update({f"{i}/{k}": v for k, v in mix.sample_params(x, generator, lengths).items()})
        return params

    def _apply(self, x: Tensor, params: Params, lengths: Tensor | None) -> Tensor:
        out = x
        for i, mix in enumerate(self.mixes):
            sub = {k.split("/", 1)[1]: v for k, v in params.items() if k.startswith(f"{i}/")}
            mixed = mix.apply(x, sub, lengths).x
            out = torch.where((params["mode"] == i)[:, None, None, None, None], mixed, out)
        return out

    def _config(self) -> dict[str, Any]:
        return {"modes": self.modes, "probs": self.probs, "p": self.p}
