"""MCC: motion consistency and continuity (Su, Lin, Wu, ICCV 2021, §3).

One training step, for a batch of joint sequences (valid length ``L_n`` each,
read from the zero padding):

* **Clips** (§3.1): ``clip_length`` = 32 frames from a random start at a
  playback speed r ∈ ``speeds`` = {1, 2, 4, 8} (every r-th frame), looping
  from the start when the clip runs past the end of the sequence. The basic
  clip ``b = S(r_i, c_i)`` and the positive ``p = S(r_j, c_j)`` have
  independent starts and speeds with ``r_j ≠ r_i``; the negative
  ``n = B(r_i, c_i)`` is the basic clip with its frames shuffled (same frames,
  another order; ``negative`` switches to Table 2's jittered or
  view-transformed clip).
* **Embeddings**: the three clips go through the encoder ``f(·; θ)`` in one
  pass and a projector to ``feature_dim``; ``x`` are the L2-normalised
  projections.
* ``L_triplet = max(0, γ + d(x_b, x_p) − d(x_b, x_n))``, Euclidean ``d``,
  γ = ``margin`` = 0.15 (eq. 1 as the text describes it, see
  :mod:`skelssl.losses.triplet`).
* ``L_NCE``: InfoNCE of ``x_b`` with the positive in the numerator (cosine
  similarity, τ = ``temperature`` = 0.5) against a memory bank of
  ``bank_size`` (K = 65536, the paper's "6536") embeddings of other sequences
  from earlier batches (eq. 2 as the text describes it). As in MoCo, the bank
  the paper cites, the positive and the bank entries are keys from a momentum
  copy of the encoder (``nce_keys="online"``: the online embeddings, which
  collapse; see ``docs/methods.md``).
* **Continuity** (§3.2): a decoder of ST-GCN blocks (``decoder_hidden``, four)
  and a spatio-temporal deconvolution reads the positive clip's dense encoder
  map (from the same pass) and up-samples time by the interpolation rate
  ``l``; the target is the same stretch sampled every ``r_j / l`` frames, or
  for ``r_j`` not a multiple of ``l`` (r = 1) the clip repeated ``l`` times
  and spliced. ``L_Itep`` is the squared error summed over x, y, z and
  averaged over joints, frames (and persons): eq. (3). ``interpolation_rate=1``
  is Table 3's direct reconstruction (the target is the input clip).
* ``L = λ1 L_triplet + λ2 L_NCE + λ3 L_Itep``; a λ of 0 switches its term
  off (Table 1's rows), and ``positive=False`` is Table 2's "no positive"
  (triplet only: ``max(0, γ − d(x_b, x_n))``).

The encoder is what downstream tasks fine-tune (:meth:`eval_encoders`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.augment.base import gather_frames, randint_below, valid_lengths
from skelssl.augment.temporal import clip_index
from skelssl.losses.infonce import info_nce_loss
from skelssl.losses.triplet import triplet_loss
from skelssl.memory.queue import MemoryQueue
from skelssl.methods.base import register_method
from skelssl.methods.components import AugmentSpec, EncoderSpec, build_augment, to_container
from skelssl.methods.momentum import MomentumMethod, key_forward
from skelssl.models.decoders import STGCNUpsampleDecoder
from skelssl.models.gcn import GraphEncoder

__all__ = ["MCC", "NEGATIVES", "interpolation_index"]

DEFAULT_ENCODER: dict[str, Any] = {"name": "stgcn"}
# Table 2's ways to break the motion of the basic clip.
NEGATIVES: dict[str, list[dict[str, Any]]] = {
    "shuffle": [{"name": "motion_shuffle"}],  # M-shuffled: the frames in a random order (the paper's choice)
    "jitter": [{"name": "gaussian_noise", "std": 0.05, "p": 1.0}],  # M-jittered: noise on every joint
    "view": [{"name": "rotation", "angles": [[-180, 180], [-180, 180], [-180, 180]]}],  # V-transformed
}


def interpolation_index(start: Tensor, speed: Tensor, num_frames: int, rate: int, length: Tensor) -> Tensor:
    """Source frames of the interpolation target ``S(r / l)``: ``(N, rate·num_frames)``, looping over ``length``.

    Every ``r / l``-th frame from ``start`` when ``r`` is a multiple of ``l``;
    otherwise (r = 1 with l = 2) the ``num_frames`` clip itself, repeated ``l`` times.
    """
    t = torch.arange(rate * num_frames, device=start.device)[None, :]
    dense = start[:, None] + (speed // rate)[:, None] * t
    repeated = start[:, None] + speed[:, None] * (t % num_frames)
    return torch.remainder(torch.where((speed % rate == 0)[:, None], dense, repeated), length[:, None])


@register_method("mcc")
class MCC(MomentumMethod):
    """Self-supervised learning of motion consistency (triplet + NCE) and continuity (interpolation).

    Args:
        encoder: backbone spec (``stgcn``, ``agcn``, ``asgcn`` ...), module or factory.
        feature_dim, mlp: projector output size and shape (``fc-ReLU-fc`` or ``fc``).
        clip_length, speeds: the clips (32 frames at 1×, 2×, 4×, 8×).
        margin, temperature, bank_size: γ, τ and K.
        interpolation_rate: ``l`` (2; 1 = direct reconstruction).
        lambda_triplet, lambda_nce, lambda_interp: λ1, λ2, λ3 (0 switches a term off).
        nce_keys: ``momentum`` (MoCo keys for the positive and the bank) or ``online``.
        positive: whether there is a speed-changed positive (False: Table 2's "−" row).
        negative: ``shuffle``, ``jitter``, ``view`` or an augmentation spec applied to the basic clip.
        decoder_hidden: channels of the decoder's ST-GCN blocks.
        **kwargs: ``momentum`` (0.999), ``shuffle_bn`` and the dataset's ``layout``, ``in_channels``,
            ``num_frames``: see :class:`~skelssl.methods.momentum.MomentumMethod`.
    """

    def __init__(
        self,
        encoder: EncoderSpec = DEFAULT_ENCODER,
        feature_dim: int = 128,
        mlp: bool = True,
        clip_length: int = 32,
        speeds: Sequence[int] = (1, 2, 4, 8),
        margin: float = 0.15,
        temperature: float = 0.5,
        bank_size: int = 65536,
        interpolation_rate: int = 2,
        lambda_triplet: float = 1.0,
        lambda_nce: float = 1.0,
        lambda_interp: float = 1.0,
        nce_keys: str = "momentum",
        positive: bool = True,
        negative: str | AugmentSpec = "shuffle",
        decoder_hidden: Sequence[int] = (128, 128, 64, 64),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.speeds = tuple(int(r) for r in to_container(speeds))
        self.clip_length, self.rate = int(clip_length), int(interpolation_rate)
        self.margin, self.temperature = float(margin), float(temperature)
        self.lambdas = {"triplet": float(lambda_triplet), "nce": float(lambda_nce), "interp": float(lambda_interp)}
        self.positive, self.nce_keys = bool(positive), nce_keys
        if nce_keys not in ("momentum", "online"):
            raise ValueError(f"nce_keys must be 'momentum' or 'online', got {nce_keys!r}")
        if not any(self.lambdas.values()):
            raise ValueError("MCC needs at least one of lambda_triplet, lambda_nce, lambda_interp > 0")
        if min(self.speeds, default=0) < 1 or self.rate < 1 or self.clip_length < 1:
            raise ValueError(f"MCC needs integer speeds, interpolation_rate and clip_length >= 1, got "
                             f"{self.speeds}, {self.rate}, {self.clip_length}")
        if self.positive and len(set(self.speeds)) < 2:
            raise ValueError(f"a speed-changed positive needs at least two distinct speeds, got {self.speeds}")
        if not self.positive and (self.lambdas["nce"] or self.lambdas["interp"]):
            raise ValueError("positive=false (Table 2's triplet without a positive) needs lambda_nce=0 and "
                             "lambda_interp=0: both terms are built on the positive clip")
        self.net = self.projected_encoder(encoder, feature_dim, mlp)
        self.negative = build_augment(NEGATIVES.get(negative, negative) if isinstance(negative, str) else negative,
                                      self.layout) if self.lambdas["triplet"] else None
        if self.lambdas["nce"]:
            self.bank = MemoryQueue(bank_size, feature_dim)
            if nce_keys == "momentum":
                self.key = self.momentum_copy(self.net)
        if self.lambdas["interp"]:
            backbone = self.net.backbone
            if not isinstance(backbone, GraphEncoder):  # the decoder's graph convolutions need every joint
                raise ValueError(f"the interpolation decoder reads a per-joint dense map: use a graph encoder "
                                 f"(stgcn, agcn, asgcn), not {type(backbone).__name__}, or lambda_interp=0")
            stride = backbone.temporal_stride
            if self.clip_length % stride:
                raise ValueError(f"clip_length={self.clip_length} must be a multiple of the encoder's temporal "
                                 f"stride {stride} for the decoder's output to match the target")
            self.decoder = STGCNUpsampleDecoder(backbone.feature_dim, self.in_channels, self.layout,
                                                rate=self.rate * stride, hidden=tuple(to_container(decoder_hidden)))

    def sample_clips(self, x: Tensor) -> dict[str, Tensor]:
        """Starts, speeds and lengths of the basic (``_i``) and positive (``_j``) clips, and the clips."""
        n, s = x.shape[0], len(self.speeds)
        length = valid_lengths(x)
        k_i = randint_below(torch.full((n,), s), None)
        k_j = torch.remainder(k_i + 1 + randint_below(torch.full((n,), s - 1), None), s)  # any other speed
        values = torch.tensor(self.speeds)
        p = {"r_i": values[k_i], "r_j": values[k_j], "s_i": randint_below(length.cpu(), None),
             "s_j": randint_below(length.cpu(), None)}
        p = {k: v.to(x.device) for k, v in p.items()}
        p["length"] = length
        p["basic"] = gather_frames(x, clip_index(p["s_i"], p["r_i"], self.clip_length, length))
        if self.positive:
            p["positive"] = gather_frames(x, clip_index(p["s_j"], p["r_j"], self.clip_length, length))
        return p

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x = batch[0]
        clips = self.sample_clips(x)
        names = ["basic"] if self.lambdas["triplet"] or self.lambdas["nce"] else []
        names += ["positive"] if self.positive else []
        if self.lambdas["triplet"]:
            clips["negative"] = self.negative(clips["basic"])
            names.append("negative")
        dense, _, z = self.net.encode(torch.cat([clips[k] for k in names]))
        emb = dict(zip(names, F.normalize(z.float(), dim=1).split(x.shape[0])))
        out: dict[str, Tensor] = {}
        if self.lambdas["triplet"]:
            out["loss_triplet"] = triplet_loss(emb["basic"], emb.get("positive"), emb["negative"], self.margin)
        if self.lambdas["nce"]:
            if self.nce_keys == "momentum":
                key = F.normalize(key_forward(self.key, clips["positive"], self.shuffle_bn).float(), dim=1)
            else:
                key = emb["positive"]
            out["loss_nce"] = info_nce_loss(emb["basic"], key, self.bank.snapshot(), self.temperature)
            self.bank.enqueue((key if self.nce_keys == "momentum" else emb["basic"]).detach())
        if self.lambdas["interp"]:
            i = names.index("positive")
            predicted = self.decoder(dense.split(x.shape[0])[i])
            index = interpolation_index(clips["s_j"], clips["r_j"], self.clip_length, self.rate, clips["length"])
            out["loss_interp"] = (predicted.float() - gather_frames(x, index)).pow(2).sum(dim=1).mean()
        out["loss"] = sum(self.lambdas[k[5:]] * v for k, v in out.items())
        if "positive" in emb and "negative" in emb:
            with torch.no_grad():
                closer = (emb["basic"] - emb["positive"]).norm(dim=1) < (emb["basic"] - emb["negative"]).norm(dim=1)
                out["triplet_acc"] = closer.float().mean()
        return out

    def backbones(self) -> dict[str, nn.Module]:
        return {"joint": self.net.backbone}

    def extra_repr(self) -> str:
        return (f"clip_length={self.clip_length}, speeds={self.speeds}, lambdas={self.lambdas}, "
                f"positive={self.positive}, interpolation_rate={self.rate}")
