"""ActCLR: actionlet-dependent contrastive learning (Lin, Zhang, Liu, CVPR 2023, §3).

Online encoder ``f_q, g_q`` (trained), offline encoder ``f_k, g_k`` (momentum
copy), a FIFO bank of offline embeddings. :meth:`ActCLR.setup` computes the
static anchor once: the training set's average motion ``X̄`` (eq. 2), the mean
of every training clip (evenly spaced frames, no augmentation), stored in
joint coordinates and converted to the method's view when used (the views are
linear, so that is the average of the views). One training step, for a batch
of joint sequences ``x``:

1. ``X_q, X_k = T(x)``: the normal augmentation twice (``augment``, crop + shear);
2. actionlet transformations ``X_act = T_act(X_q)``: ``actionlet_augment``
   (``extreme``: spatial flip, rotation, temporal flip, noise, blur, axis
   mask) then skeleton AdaIN (eq. 6, :class:`~skelssl.augment.mixing.SkeletonAdaIN`,
   probability ``adain_p``);
3. one offline pass over ``[X_k, X_act, X̄]`` (no gradient into ``f_k``) gives
   their dense maps; the actionlets of ``X_k`` and ``X_act`` come from
   difference activation mapping against ``z̄ = g_k(GAP(f_k(X̄)))``
   (:class:`~skelssl.methods.actionlet.ActionletExtractor`, eq. 3–5), and the
   actionlet of ``X_act`` is brought to the input frames
   (:func:`~skelssl.methods.actionlet.to_input_frames`);
4. MATS: the non-actionlet transformations ``T_non`` on top of ``X_act`` —
   stronger Gaussian noise (``noise_std``) and Skeleton Mix (Mixup / CutMix /
   ResizeMix, :class:`~skelssl.augment.mixing.RandomSkeletonMix`) — give
   ``X_non``, and ``X_trans = A ⊙ X_act + (1 − A) ⊙ X_non`` (eq. 7), combined
   in the encoder's input space (the view), as the release does. A component
   whose region is ``full`` (Table 7's "full area") is applied to the whole
   sequence instead, i.e. to ``X_act`` before the split;
5. ``z_q = g_q(GAP(f_q(X_trans)))`` and ``z_k = g_k(SAFP(f_k(X_k)))`` (eq. 8;
   ``safp`` switches it between the streams, Table 9), both L2-normalised;
6. the similarity-mining loss (eq. 9, τ_q = 0.1, τ_k = 0.04) against the bank,
   then ``z_k`` is enqueued (first in, first out).

Stage 1: eq. 9 alone cannot start from random weights. A random encoder maps
every sequence to nearly the same embedding, so ``p_k`` is uniform over the
bank and the loss drives ``p_q`` to uniform too: the embeddings collapse
(measured: the loss sits at ``log |M|`` within 20 steps, ``tests/test_actclr.py``).
The paper starts from a trained encoder (the release loads AimCLR's 300-epoch
checkpoint into both streams). Two ways here:

* ``stage1``: an AimCLR (or SkeletonCLR / ActCLR) run directory or checkpoint
  whose query encoder and projector initialise both streams (the release's
  way; the N-UCLA benchmark does this, ``stage1_epochs: 0``);
* ``stage1_epochs``: the first epochs of the run train the same two streams
  with MoCo's InfoNCE (the bank is the MoCo queue), then eq. 9 takes over.
  The shipped configs do this (150 of 300 epochs), so they train from
  scratch without a second run — a path cannot be a default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from skelssl.augment.mixing import RandomSkeletonMix, SkeletonAdaIN
from skelssl.augment.spatial import GaussianNoise
from skelssl.losses.infonce import info_nce_loss
from skelssl.losses.similarity_mining import similarity_mining_loss
from skelssl.memory._distributed import batch_shuffle, batch_unshuffle
from skelssl.memory.queue import MemoryQueue
from skelssl.methods.actionlet import Actionlet, ActionletExtractor, combine_regions, safp, to_input_frames
from skelssl.methods.base import register_method
from skelssl.methods.components import AugmentSpec, EncoderSpec, build_augment, to_container
from skelssl.methods.contrastive import check_view
from skelssl.methods.momentum import MomentumMethod
from skelssl.methods.skeletonclr import DEFAULT_ENCODER
from skelssl.models.base import SkeletonEncoder

__all__ = ["ActCLR", "SAFP_PLACEMENTS", "REGIONS"]

SAFP_PLACEMENTS = ("offline", "online", "both", "none")
REGIONS = ("non_actionlet", "full")
# Methods whose runs hold a `query` ProjectedEncoder that can start ActCLR (stage 1).
STAGE1_METHODS = ("aimclr", "skeletonclr", "actclr")


@register_method("actclr")
class ActCLR(MomentumMethod):
    """Actionlet-dependent contrastive learning.

    Args:
        encoder, view, augment, feature_dim, mlp: as :class:`~skelssl.methods.skeletonclr.SkeletonCLR`.
        bank_size: offline embeddings in the FIFO memory bank.
        tau_q, tau_k: eq. 9's online and offline temperatures.
        actionlet_augment: T_act's pipeline (``extreme``); ``None`` for none.
        adain_p: probability of skeleton AdaIN in T_act (0: off).
        noise_std, noise_p, noise_region: T_non's Gaussian noise (std 0 turns it off) and its region.
        mix_modes, mix_probs, mix_region: T_non's Skeleton Mix (``[]`` turns it off) and its region.
        safp: where SAFP replaces GAP: ``offline`` (the paper), ``online``, ``both`` or ``none`` (Table 9).
        safp_weight: ``w·SAFP + (1 − w)·GAP`` (1: the paper; the release uses ½).
        smoothing, threshold, gradient_activation: the actionlet's
            (:class:`~skelssl.methods.actionlet.ActionletExtractor`).
        query_power, bank_topk, target_ceiling: the release's departures in eq. 9
            (:func:`~skelssl.losses.similarity_mining.similarity_mining_loss`): squared
            online similarities (2), only the ``bank_topk`` bank entries nearest ``z_k``,
            offline similarities above ``target_ceiling`` dropped. Defaults: the paper's eq. 9.
        stage1: run directory or checkpoint to start from (``None``: random weights).
        stage1_epochs: the first epochs of this run train with MoCo's InfoNCE
            (τ = ``temperature``) between ``z_q`` and ``z_k`` instead of eq. 9:
            stage 1 inside the run, for training from random weights.
        **kwargs: ``momentum``, ``final_momentum``, ``shuffle_bn``, ``layout``, ``in_channels``, ``num_frames``.
    """

    def __init__(
        self,
        encoder: EncoderSpec = DEFAULT_ENCODER,
        view: str = "joint",
        augment: AugmentSpec = "skeletonclr",
        feature_dim: int = 128,
        mlp: bool = True,
        bank_size: int = 32768,
        tau_q: float = 0.1,
        tau_k: float = 0.04,
        actionlet_augment: AugmentSpec = "extreme",
        adain_p: float = 0.5,
        noise_std: float = 0.05,
        noise_p: float = 0.5,
        noise_region: str = "non_actionlet",
        mix_modes: Sequence[str] = ("mixup", "cutmix_parts", "resizemix"),
        mix_probs: Sequence[float] | None = (0.25, 0.5, 0.25),
        mix_region: str = "non_actionlet",
        safp: str = "offline",
        safp_weight: float = 1.0,
        smoothing: str = "adjacency",
        threshold: float = 0.0,
        gradient_activation: str = "identity",
        query_power: int = 1,
        bank_topk: int | None = None,
        target_ceiling: float | None = None,
        stage1: str | None = None,
        stage1_epochs: int = 0,
        temperature: float = 0.07,
        **kwargs: Any,
    ) -> None:
        if tau_q <= 0 or tau_k <= 0 or temperature <= 0:
            raise ValueError(f"temperatures must be positive, got tau_q={tau_q}, tau_k={tau_k}, "
                             f"temperature={temperature}")
        if stage1_epochs < 0:
            raise ValueError(f"stage1_epochs must be >= 0, got {stage1_epochs}")
        if safp not in SAFP_PLACEMENTS:
            raise ValueError(f"safp must be one of {SAFP_PLACEMENTS}, got {safp!r}")
        for name, region in (("noise_region", noise_region), ("mix_region", mix_region)):
            if region not in REGIONS:
                raise ValueError(f"{name} must be one of {REGIONS}, got {region!r}")
        if query_power not in (1, 2):
            raise ValueError(f"query_power must be 1 (the paper) or 2 (the release), got {query_power}")
        if bank_topk is not None and not 1 <= bank_topk <= bank_size:
            raise ValueError(f"bank_topk must be in 1..bank_size ({bank_size}) or null, got {bank_topk}")
        if not 0.0 <= safp_weight <= 1.0:
            raise ValueError(f"safp_weight must be in [0, 1], got {safp_weight}")
        super().__init__(augment=augment, **kwargs)
        self.view = check_view(view)
        self.feature_dim = int(feature_dim)
        self.tau_q, self.tau_k = float(tau_q), float(tau_k)
        self.mining_options = {"query_power": int(query_power),
                               "bank_topk": None if bank_topk is None else int(bank_topk),
                               "target_ceiling": None if target_ceiling is None else float(target_ceiling)}
        self.safp, self.safp_weight = safp, float(safp_weight)
        self.stage1 = None if stage1 in (None, "", "none", "null") else str(stage1)
        self.stage1_epochs = int(stage1_epochs)
        self.temperature = float(temperature)
        self.actionlet_augment = build_augment(actionlet_augment, self.layout)
        self.adain = SkeletonAdaIN(p=adain_p, layout=self.layout) if adain_p > 0 else None
        self.noise = GaussianNoise(std=noise_std, p=noise_p) if noise_std > 0 else None
        mix_modes = list(to_container(mix_modes) or [])
        self.mix = (RandomSkeletonMix(mix_modes, None if mix_probs is None else list(to_container(mix_probs)),
                                      layout=self.layout) if mix_modes else None)
        self.noise_region, self.mix_region = noise_region, mix_region
        self.query = self.projected_encoder(encoder, self.feature_dim, mlp)
        if not isinstance(self.query.backbone, SkeletonEncoder):
            raise TypeError("ActCLR needs an encoder with a dense map (a SkeletonEncoder such as stgcn)")
        self.key = self.momentum_copy(self.query)
        self.bank = MemoryQueue(bank_size, self.feature_dim)
        self.extractor = ActionletExtractor(self.layout, smoothing, threshold, gradient_activation)
        # Joint coordinates (C, T, V, M) of the average training clip; sized by setup() or a checkpoint.
        self.register_buffer("average_motion", torch.zeros(0))

    # ------------------------------------------------------------------ setup: the static anchor, stage 1
    @torch.no_grad()
    def setup(self, dataset: Any) -> None:
        """The average motion of ``dataset`` (eq. 2) and, with ``stage1``, the stage-1 weights."""
        data = dataset.with_sampling("uniform") if hasattr(dataset, "with_sampling") else dataset
        total, count = None, 0
        for batch in DataLoader(data, batch_size=256, shuffle=False):
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            x = x.double()
            total = x.sum(dim=0) if total is None else total + x.sum(dim=0)
            count += x.shape[0]
        if not count:
            raise ValueError("ActCLR.setup: the training set is empty; no average motion to compute")
        self.average_motion = (total / count).float().to(self.average_motion.device)
        if self.stage1 is not None:
            self.load_stage1(self.stage1)

    def load_stage1(self, source: str | Path) -> None:
        """Initialise the online and offline encoder + projector from a run's (or checkpoint's) query network."""
        from skelssl.engine.checkpoint import decode_state, load_checkpoint, resolve_checkpoint

        path = resolve_checkpoint(source)
        tensors, meta = load_checkpoint(path)
        name = ((meta.get("config") or {}).get("method") or {}).get("name")
        if name not in STAGE1_METHODS:
            raise ValueError(f"{path}: stage 1 must be a run of {', '.join(STAGE1_METHODS)}, got method {name!r}")
        stage_view = meta["config"]["method"].get("view", "joint")
        if stage_view != self.view:
            raise ValueError(f"{path}: stage 1 was trained on the {stage_view!r} view, this ActCLR on {self.view!r}")
        state = decode_state(meta["state"]["model"], {k: v for k, v in tensors.items() if k.startswith("model/")})
        query = {k[len("query."):]: v for k, v in state.items() if k.startswith("query.")}
        try:
            self.query.load_state_dict(query)
            self.key.load_state_dict(query)
        except RuntimeError as err:
            raise ValueError(f"{path}: its encoder does not fit this ActCLR's: {err}") from None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[override]
        # The anchor's shape is the data's, known only once setup() or a checkpoint provides it.
        key = prefix + "average_motion"
        if key in state_dict:
            self.average_motion = torch.empty_like(state_dict[key], device=self.average_motion.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def anchor(self, num_frames: int) -> Tensor:
        """The average motion as a one-sample batch in the method's view, at ``num_frames`` frames."""
        if self.average_motion.dim() != 4:
            raise RuntimeError("ActCLR has no average motion yet: call setup(train_dataset) before training")
        x = self.average_motion[None]
        if x.shape[2] != num_frames:  # a clip length other than setup()'s: resample the anchor linearly
            from skelssl.augment.temporal import linear_resample

            x = linear_resample(x, torch.full((1,), x.shape[2], device=x.device), num_frames)
        return self.to_view(x, self.view)

    # ------------------------------------------------------------------ the offline stream
    def _offline_dense(self, x: Tensor) -> Tensor:
        """The offline encoder's dense map of view input ``x``, no gradient, shuffle-BN across ranks."""
        with torch.no_grad():
            if self.shuffle_bn:
                x, idx = batch_shuffle(x)
                return batch_unshuffle(self.key.backbone.forward_features(x), idx)
            return self.key.backbone.forward_features(x)

    def _offline_head(self, dense: Tensor) -> Tensor:
        return self.key.projector(self.key.backbone.pool(dense))

    def _pool(self, dense: Tensor, mask: Tensor | None, backbone: nn.Module) -> Tensor:
        gap = backbone.pool(dense)
        if mask is None:
            return gap
        pooled = safp(dense, mask)
        return gap if self.safp_weight == 0 else self.safp_weight * pooled + (1.0 - self.safp_weight) * gap

    def _actionlet(self, dense: Tensor, anchor_dense: Tensor) -> Actionlet:
        with torch.no_grad():
            anchor_z = self._offline_head(anchor_dense)
        return self.extractor(dense, anchor_z, self._offline_head)

    @torch.no_grad()
    def actionlet(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(activation, mask)`` of joint sequences ``x`` at their input frames, each ``(N, T, V, M)``.

        For pictures and analysis: the offline encoder as it is (call ``eval()``
        for BatchNorm's running statistics), against the stored average motion.
        """
        view = self.to_view(x, self.view)
        dense = self._offline_dense(torch.cat([view, self.anchor(x.shape[2]).to(x)]))
        act = self._actionlet(dense[:-1], dense[-1:])
        peak = act.activation.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        activation = to_input_frames(act.activation / peak, x.shape[2])[:, 0]
        return activation, to_input_frames(act.mask, x.shape[2])[:, 0]

    # ------------------------------------------------------------------ MATS
    def actionlet_transform(self, x_q: Tensor) -> Tensor:
        """T_act (joint space): the actionlet pipeline, then skeleton AdaIN."""
        x = self.actionlet_augment(x_q) if self.actionlet_augment is not None else x_q
        return self.adain(x) if self.adain is not None else x

    def _components(self, region: str) -> list[Any]:
        parts = [(self.noise, self.noise_region), (self.mix, self.mix_region)]
        return [op for op, where in parts if op is not None and where == region]

    def mats(self, x_act: Tensor, actionlet: Tensor | None) -> dict[str, Tensor]:
        """Eq. 7 for joint sequences ``x_act`` and their actionlet ``(N, 1, T, V, M)``.

        Returns ``x_full`` (``x_act`` after the full-region components),
        ``x_non`` (``x_full`` after the non-actionlet ones), both in the view,
        and ``x_trans = A ⊙ x_full + (1 − A) ⊙ x_non`` (the encoder's input).
        """
        x_full = x_act
        for op in self._components("full"):
            x_full = op(x_full)
        non = self._components("non_actionlet")
        v_full = self.to_view(x_full, self.view)
        if not non or actionlet is None:
            return {"x_full": v_full, "x_non": v_full, "x_trans": v_full}
        x_non = x_full
        for op in non:
            x_non = op(x_non)
        v_non = self.to_view(x_non, self.view)
        return {"x_full": v_full, "x_non": v_non, "x_trans": combine_regions(v_full, v_non, actionlet)}

    # ------------------------------------------------------------------ training
    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x = batch[0]
        n, t = x.shape[0], x.shape[2]
        x_q, x_k = self.augment_pair(x)
        x_act = self.actionlet_transform(x_q)
        needs_act = bool(self._components("non_actionlet")) or self.safp in ("online", "both")
        parts = [self.to_view(x_k, self.view)]
        if needs_act:
            parts.append(self.to_view(x_act, self.view))
        parts.append(self.anchor(t).to(x))
        dense = self._offline_dense(torch.cat(parts))
        d_k, d_anchor = dense[:n], dense[-1:]

        # The actionlets needed (of X_k for SAFP, of X_act for MATS) from one gradient computation.
        needs_k = self.safp in ("offline", "both")
        start, stop = (0 if needs_k else n), (2 * n if needs_act else n)
        act = self._actionlet(dense[start:stop], d_anchor) if stop > start else None
        mask_k = act.mask[:n] if needs_k else None
        act_q = Actionlet(*(a[-n:] for a in act)) if needs_act else None
        z_k = F.normalize(self.key.projector(self._pool(d_k, mask_k, self.key.backbone)).float(), dim=1)
        mats = self.mats(x_act, None if act_q is None else to_input_frames(act_q.mask, t))

        d_q = self.query.backbone.forward_features(mats["x_trans"])
        online_mask = act_q.mask if (act_q is not None and self.safp in ("online", "both")) else None
        z_q = F.normalize(self.query.projector(self._pool(d_q, online_mask, self.query.backbone)).float(), dim=1)

        bank = self.bank.snapshot()
        warmup = epoch < self.stage1_epochs
        if warmup:  # stage 1 inside the run: MoCo's InfoNCE between the two streams
            loss = info_nce_loss(z_q, z_k, bank, self.temperature)
        else:
            loss = similarity_mining_loss(z_q, z_k, bank, self.tau_q, self.tau_k, **self.mining_options)
        self.bank.enqueue(z_k)
        out = {"loss": loss, "pos_sim": (z_q.detach() * z_k).sum(dim=1).mean(),
               "stage1": torch.tensor(float(warmup), device=loss.device), "memory_cone": self.bank.cone()}
        if act is not None:
            out["actionlet_share"] = act.mask.mean()
        return out

    def backbones(self) -> dict[str, nn.Module]:
        return {self.view: self.query.backbone}

    def extra_repr(self) -> str:
        return (f"view={self.view!r}, bank_size={self.bank.size}, tau_q={self.tau_q}, tau_k={self.tau_k}, "
                f"safp={self.safp!r}, noise_region={self.noise_region!r}, mix_region={self.mix_region!r}, "
                f"stage1={self.stage1!r}")
