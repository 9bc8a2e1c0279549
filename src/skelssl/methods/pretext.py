"""Pretext-classification baselines MCC compares against (Su et al., ICCV 2021, Table 4), on skeletons.

Each draws a transformation of the input with a class label, encodes it with
the backbone and trains a classifier to recover the label (cross-entropy);
downstream tasks use the backbone (:meth:`eval_encoders`). Clips are sampled
as in MCC (a start uniform in the valid sequence, every r-th frame, looping).

* ``pace_prediction`` (Wang, Jiao, Liu, ECCV 2020): one ``clip_length`` clip
  at a pace r ∈ ``paces``; predict r (``len(paces)`` classes).
* ``clip_order`` (Xu et al., CVPR 2019, VCOP): ``num_clips`` consecutive clips
  (``interval`` frames apart) shuffled by a random permutation; each clip is
  encoded alone, every pair of clip features goes through a shared
  ``fc-ReLU`` on their concatenation, and a linear layer on all pairs
  predicts the permutation (``num_clips!`` classes).
* ``cubic_puzzle`` (Kim, Cho, Kweon, AAAI 2019, space-time cubic puzzles):
  four pieces of a clip, either temporal (its four quarters in time) or
  spatial (the clip with only one limb visible: left/right arm, left/right
  leg, the skeleton's counterpart of a spatial cell), chosen at random per
  step as the paper alternates them; the pieces are encoded separately (late
  fusion), their features concatenated in a random order, and two fully
  connected layers predict the permutation (4! = 24 classes).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.augment.base import gather_frames, randint_below, valid_lengths
from skelssl.augment.mixing import body_parts
from skelssl.augment.temporal import clip_index
from skelssl.data.layouts import SkeletonLayout
from skelssl.methods.base import register_method
from skelssl.methods.components import EncoderSpec, to_container
from skelssl.methods.contrastive import ContrastiveMethod

__all__ = ["PretextMethod", "PacePrediction", "ClipOrder", "CubicPuzzle"]

DEFAULT_ENCODER: dict[str, Any] = {"name": "stgcn"}
LIMBS = ("left_arm", "right_arm", "left_leg", "right_leg")


class PretextMethod(ContrastiveMethod):
    """A backbone and a head (``self.net``, from ``head(feature_dim)``) trained with cross-entropy on drawn labels."""

    def __init__(self, encoder: EncoderSpec, head: Callable[[int], nn.Module], *, layout: str | SkeletonLayout,
                 in_channels: int, num_frames: int | None) -> None:
        super().__init__(layout=layout, in_channels=in_channels, num_frames=num_frames)
        self.net = self.projected_encoder(encoder, head=head)

    def clips(self, x: Tensor, starts: Tensor, step: Tensor | int, num_frames: int) -> Tensor:
        """``(N, C, num_frames, V, M)`` clips from ``starts`` every ``step`` frames, looping over the valid length."""
        length = valid_lengths(x)
        step = torch.as_tensor(step, device=x.device).expand(x.shape[0])
        return gather_frames(x, clip_index(starts.to(x.device), step, num_frames, length))

    @staticmethod
    def classification(logits: Tensor, labels: Tensor) -> dict[str, Tensor]:
        loss = F.cross_entropy(logits.float(), labels)
        return {"loss": loss, "acc": (logits.detach().argmax(dim=1) == labels).float().mean()}

    def backbones(self) -> dict[str, nn.Module]:
        return {"joint": self.net.backbone}


def _permutations(k: int) -> Tensor:
    return torch.tensor(list(itertools.permutations(range(k))))


@register_method("pace_prediction")
class PacePrediction(PretextMethod):
    def __init__(self, encoder: EncoderSpec = DEFAULT_ENCODER, clip_length: int = 32,
                 paces: Sequence[int] = (1, 2, 4, 8), layout: str | SkeletonLayout = "ntu25", in_channels: int = 3,
                 num_frames: int | None = None) -> None:
        paces = tuple(int(r) for r in to_container(paces))
        super().__init__(encoder, lambda d: nn.Linear(d, len(paces)), layout=layout, in_channels=in_channels,
                         num_frames=num_frames)
        self.paces, self.clip_length = paces, int(clip_length)

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x = batch[0]
        label = randint_below(torch.full((x.shape[0],), len(self.paces)), None).to(x.device)
        pace = torch.tensor(self.paces, device=x.device)[label]
        clips = self.clips(x, randint_below(valid_lengths(x).cpu(), None), pace, self.clip_length)
        return self.classification(self.net(clips), label)


@register_method("clip_order")
class ClipOrder(PretextMethod):
    def __init__(self, encoder: EncoderSpec = DEFAULT_ENCODER, num_clips: int = 3, clip_length: int = 16,
                 interval: int = 8, pair_dim: int = 512, dropout: float = 0.5, layout: str | SkeletonLayout = "ntu25",
                 in_channels: int = 3, num_frames: int | None = None) -> None:
        if num_clips < 2:
            raise ValueError(f"clip order needs at least 2 clips, got {num_clips}")
        super().__init__(encoder, lambda d: nn.Identity(), layout=layout, in_channels=in_channels,
                         num_frames=num_frames)
        self.num_clips, self.clip_length, self.interval = int(num_clips), int(clip_length), int(interval)
        self.register_buffer("orders", _permutations(self.num_clips), persistent=False)
        self.pairs = list(itertools.combinations(range(self.num_clips), 2))
        self.pair_net = nn.Sequential(nn.Linear(2 * self.net.backbone.feature_dim, pair_dim), nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(len(self.pairs) * pair_dim, len(self.orders)))

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x = batch[0]
        n, k = x.shape[0], self.num_clips
        start = randint_below(valid_lengths(x).cpu(), None)
        clips = [self.clips(x, start + i * (self.clip_length + self.interval), 1, self.clip_length) for i in range(k)]
        label = randint_below(torch.full((n,), len(self.orders)), None).to(x.device)
        h = self.net(torch.cat(clips)).view(k, n, -1).transpose(0, 1)  # (N, k, D) in temporal order
        shuffled = h.gather(1, self.orders[label][:, :, None].expand_as(h))
        pairs = [self.pair_net(torch.cat([shuffled[:, i], shuffled[:, j]], dim=1)) for i, j in self.pairs]
        return self.classification(self.classifier(torch.cat(pairs, dim=1)), label)


@register_method("cubic_puzzle")
class CubicPuzzle(PretextMethod):
    def __init__(self, encoder: EncoderSpec = DEFAULT_ENCODER, clip_length: int = 32, spatial_p: float = 0.5,
                 hidden: int = 512, layout: str | SkeletonLayout = "ntu25", in_channels: int = 3,
                 num_frames: int | None = None) -> None:
        if clip_length % 4:
            raise ValueError(f"cubic puzzle cuts the clip into 4 temporal pieces; clip_length={clip_length}")
        super().__init__(encoder, lambda d: nn.Identity(), layout=layout, in_channels=in_channels,
                         num_frames=num_frames)
        self.clip_length, self.spatial_p = int(clip_length), float(spatial_p)
        self.register_buffer("orders", _permutations(4), persistent=False)
        parts = body_parts(self.layout)
        masks = torch.zeros(len(LIMBS), self.layout.num_joints)
        for i, limb in enumerate(LIMBS):
            masks[i, list(parts[limb])] = 1.0
        self.register_buffer("limb_masks", masks, persistent=False)
        self.classifier = nn.Sequential(nn.Linear(4 * self.net.backbone.feature_dim, hidden), nn.ReLU(inplace=True),
                                        nn.Linear(hidden, len(self.orders)))

    def pieces(self, clip: Tensor, spatial: bool) -> Tensor:
        """``(4, N, C, T', V, M)``: the clip's quarters in time, or the clip with one limb visible each."""
        if spatial:
            return clip[None] * self.limb_masks[:, None, None, None, :, None]
        return torch.stack(clip.chunk(4, dim=2))

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], epoch: int) -> dict[str, Tensor]:
        x = batch[0]
        n = x.shape[0]
        clip = self.clips(x, randint_below(valid_lengths(x).cpu(), None), 1, self.clip_length)
        spatial = bool(torch.rand(()) < self.spatial_p)
        pieces = self.pieces(clip, spatial)
        h = self.net(pieces.flatten(0, 1)).view(4, n, -1).transpose(0, 1)  # (N, 4, D)
        label = randint_below(torch.full((n,), len(self.orders)), None).to(x.device)
        shuffled = h.gather(1, self.orders[label][:, :, None].expand_as(h))
        out = self.classification(self.classifier(shuffled.flatten(1)), label)
        out["spatial"] = torch.tensor(float(spatial), device=x.device)
        return out
