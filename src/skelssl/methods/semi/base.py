"""What every semi-supervised method shares: encoder → translation → classifier, a feature bank, batches.

The network is ASSL's (§3.2): a recurrent encoder (3 bidirectional GRU layers,
hidden 512) gives ``h``; a linear *translation layer* maps it to ``h̄``, the
space where neighbours are searched; a two-layer classifier predicts from
``h̄``. Every baseline uses the same network, so a comparison differs only in
the training signal.

A training batch (built by :mod:`skelssl.api.semi_supervised`) is a dict
with the labeled half ``x_l, y_l, i_l`` and the unlabeled half ``x_u, y_u,
i_u`` (``i_*`` are rows of the prepared dataset). ``y_u`` is used only for the
logged *neighbourhood quality* (paper Fig. 5) and never in a loss.

Input sampling is ASSL's: ``num_frames`` (40) frames drawn at random from the
valid clip and kept in order, in training (torch's global RNG, checkpointed by
the engine) and at test time (a seeded generator, see :meth:`predict`).
``num_frames=None`` leaves the clip as the dataset serves it (whole-sequence
recipes such as ``agc_lstm`` already draw random training clips and even test
clips). ``augment`` (a pipeline name or spec, e.g. ``agc_lstm``) is applied to
both halves of every training batch after frame sampling, never at test time.
``bank_input`` says what the bank holds and neighbours are searched with when
a method searches neighbours (:attr:`SemiSupervisedMethod.searches_neighbours`)
and ``augment`` is set: ``clean`` (default) — ``h̄`` of the frame-sampled
sequence *before* augmentation, from one extra forward pass without gradients
in eval mode (BatchNorm's running statistics, as when the bank is filled and
at test); ``clean_batch_stats`` — the same pass in training mode, each clip
normalised by its key batch's statistics (the behaviour before eval mode,
kept to replay earlier records; it costs ASSL on ST-GCN, docs/semi.md);
``augmented`` — the training features themselves. Each sample's bank row comes
from its own random rotation otherwise, and neighbours then share a viewpoint
more than an action: on a finished N-UCLA ASSL run (seed 0), the share of an
anchor's 10 nearest neighbours with its class is 0.58 in clean features and
0.49 in the augmented bank (docs/semi.md). The paper trains without
augmentation, so its bank is of un-augmented sequences, as ``clean`` keeps it.
``ramp_up_epochs`` scales every unlabeled term by a ramp from ~0 to 1 over
the first epochs (:meth:`SemiSupervisedMethod.unlabeled_weight`).

Every method keeps a :class:`~skelssl.memory.FeatureBank` of ``h̄`` for all
training samples (filled by :meth:`fill_bank` before training, refreshed by
every batch) and logs ``nei_quality``: the share of each unlabeled anchor's
K nearest unlabeled neighbours that have the anchor's true label.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelssl.augment import build_pipeline
from skelssl.losses.semi import nearest_neighbours
from skelssl.memory.feature_bank import FeatureBank
from skelssl.methods.base import Method
from skelssl.methods.components import build_encoder, to_container
from skelssl.models.base import eval_mode
from skelssl.models.heads import TwoLayerClassifier

__all__ = ["SemiSupervisedMethod", "Batch", "running_stats_frozen"]

Batch = Mapping[str, Tensor]
DEFAULT_ENCODER: dict[str, Any] = {"name": "bigru", "hidden_size": 512, "num_layers": 3}
BANK_INPUTS = ("clean", "clean_batch_stats", "augmented")


@contextlib.contextmanager
def running_stats_frozen(module: nn.Module) -> Any:
    """BatchNorm layers in ``module`` normalise with each batch's statistics but keep their running ones.

    Only the training batch may move the running statistics used at test time. Masked clips
    (30 % of frames set to 0), un-augmented bank clips and VAT's perturbed clips are other
    distributions: on ST-GCN, ASSL's running statistics averaged over all of them cost up to 11
    points of test accuracy, recovered by re-estimating them alone
    (benchmarks/diagnostics/semi_batchnorm.py, docs/semi.md).
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum


class SemiSupervisedMethod(Method):
    """Base class: builds the network and bank; subclasses add loss terms in :meth:`unlabeled_loss`."""

    #: Whether batches need an unlabeled half (the supervised-only baseline does not).
    uses_unlabeled = True
    #: Whether a loss uses neighbours from the bank (then ``bank_input`` decides what the bank holds).
    searches_neighbours = False
    #: Encode the step's clips in one pass where the encoder allows it (:meth:`encode`); False gives
    #: one pass per part, the step as it was before (benchmarks replay it).
    one_encoder_pass = True
    dataset_fields = ("layout", "in_channels", "num_person", "num_classes", "num_samples")

    def __init__(
        self,
        num_classes: int,
        num_samples: int,
        *,
        layout: str = "ntu25",
        in_channels: int = 3,
        num_person: int = 1,
        encoder: Mapping[str, Any] | None = None,
        translation_dim: int = 256,
        classifier_hidden: int = 256,
        num_frames: int | None = 40,
        neighbours: int = 10,
        augment: Any = None,
        ramp_up_epochs: int = 0,
        bank_input: str = "clean",
    ) -> None:
        super().__init__()
        spec = dict(to_container(encoder) or {})
        if spec.get("name", DEFAULT_ENCODER["name"]) == DEFAULT_ENCODER["name"]:
            # ASSL's GRU sizes fill in what a bigru spec leaves out; another backbone keeps its own defaults.
            spec = {**DEFAULT_ENCODER, **spec}
        spec.setdefault("num_person", num_person)
        self.encoder = build_encoder(spec, in_channels, layout)
        self.translation = nn.Linear(self.encoder.feature_dim, translation_dim)
        self.classifier = TwoLayerClassifier(translation_dim, num_classes, hidden_dim=classifier_hidden)
        self.bank = FeatureBank(num_samples, translation_dim)
        # True labels of every bank row, for the logged neighbourhood quality only.
        self.register_buffer("audit_label", torch.full((num_samples,), -1, dtype=torch.long))
        self.frame_sampler = (None if num_frames is None else
                              build_pipeline([{"name": "random_frames", "num_frames": num_frames}], layout=layout))
        augment = to_container(augment)
        self.augment = None if augment in (None, False, "none") else build_pipeline(augment, layout=layout)
        self.num_classes, self.num_frames, self.k = num_classes, num_frames, int(neighbours)
        # The input clip's shape, for heads that rebuild it (ASSL's decoder) whatever the backbone.
        self.in_channels, self.layout, self.num_person = in_channels, layout, num_person
        self.ramp_up_epochs = int(ramp_up_epochs)
        if bank_input not in BANK_INPUTS:
            raise ValueError(f"bank_input must be one of {', '.join(map(repr, BANK_INPUTS))}, got {bank_input!r}")
        self.bank_input = bank_input

    def unlabeled_weight(self, epoch: int) -> float:
        """Multiplier of every unlabeled term: Laine & Aila's ramp-up ``exp(-5 (1 - t)²)``, ``t = epoch / R``.

        ``R = ramp_up_epochs`` (0: always 1). While the classifier is still near chance its predictions
        and the feature bank's neighbours are mostly wrong; the ramp keeps them from steering the
        encoder before the labeled loss has shaped it.
        """
        if self.ramp_up_epochs <= 0 or epoch >= self.ramp_up_epochs:
            return 1.0
        return math.exp(-5.0 * (1.0 - epoch / self.ramp_up_epochs) ** 2)

    # ------------------------------------------------------------ network
    def sample_frames(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return x if self.frame_sampler is None else self.frame_sampler(x, generator)

    def training_input(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(clean, augmented)``: frame sampling, then the training augmentation (torch's global RNG,
        checkpointed by the engine); ``augmented is clean`` without an augmentation."""
        x = self.sample_frames(x)
        return x, (x if self.augment is None else self.augment(x))

    def embed(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(h, h̄)`` for an already frame-sampled batch."""
        h = self.encoder(x)
        return h, self.translation(h)

    def logits(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x)[1])

    def eval_encoders(self) -> dict[str, nn.Module]:
        return {"joint": self.encoder}

    # ------------------------------------------------------------ labels and bank
    def set_labels(self, labeled: np.ndarray, labels: np.ndarray, audit: np.ndarray) -> None:
        """Mark the labeled rows (their labels enter losses) and record true labels for the quality metric."""
        self.bank.set_labels(torch.as_tensor(labeled), torch.as_tensor(labels))
        audit = torch.as_tensor(audit, dtype=torch.long)
        self.audit_label.copy_(audit.to(self.audit_label.device))

    @torch.no_grad()
    def fill_bank(self, batches: Iterable[tuple[Tensor, Tensor]], generator: torch.Generator | None = None) -> None:
        """One pass over ``(x, rows)`` batches to fill every bank row before training starts."""
        was_training = self.training
        self.eval()
        device = self.bank.features.device
        for x, rows in batches:
            x = self.sample_frames(x.to(device), generator)
            self.bank.update(rows.to(device), self.embed(x)[1])
        self.train(was_training)

    @torch.no_grad()
    def bank_keys(self, x: Tensor) -> Tensor:
        """``h̄`` of un-augmented clips for the bank and the neighbour search (``bank_input``).

        ``clean``: in eval mode, as :meth:`fill_bank` and testing compute it, so a row does not depend
        on the clips it shared a batch with. With BatchNorm's batch statistics instead
        (``clean_batch_stats``, the behaviour before this option existed) the un-rotated clips are
        normalised by the statistics of un-rotated batches, a distribution the encoder never trains on:
        on a finished ST-GCN-¼ ASSL run the classifier labels 63 % of the unlabeled bank rows right
        against 70 % of the same clips' eval-mode features, and neighbour purity (K = 10) is 0.56
        against 0.65 (docs/semi.md).
        """
        if self.bank_input == "clean_batch_stats":
            with running_stats_frozen(self.encoder):
                return self.embed(x)[1]
        with eval_mode(self.encoder, self.translation):
            return self.embed(x)[1]

    def labeled_rows(self) -> Tensor:
        return self.bank.filled & (self.bank.label >= 0)

    def unlabeled_rows(self) -> Tensor:
        return self.bank.filled & (self.bank.label < 0)

    @torch.no_grad()
    def neighbour_quality(self, t_u: Tensor, i_u: Tensor, y_u: Tensor) -> Tensor:
        """Share of the K nearest unlabeled neighbours of each anchor that have its true label."""
        candidates = self.unlabeled_rows()
        if int(candidates.sum()) <= self.k:
            return torch.tensor(float("nan"), device=t_u.device)
        nn_idx = nearest_neighbours(t_u, self.bank.features, candidates, self.k, exclude=i_u)
        return (self.audit_label[nn_idx] == y_u[:, None]).float().mean()

    # ------------------------------------------------------------ training
    def extra_clips(self, x_u: Tensor) -> dict[str, Tensor]:
        """Further clips the unlabeled terms need encoded, by name (ASSL: the masked unlabeled clips).

        Drawn before the encoder pass; the step encodes them with the training batch and hands
        ``{name: (clip, h)}`` to :meth:`unlabeled_loss` as ``encoded``.
        """
        return {}

    def encode(self, parts: list[Tensor]) -> list[Tensor]:
        """The encoder's ``h`` of each batch in ``parts``, in one pass when the encoder allows it.

        One pass over all clips runs the recurrent layers' per-frame products at a larger batch:
        on the 2-core CPU, ASSL's labeled + unlabeled + masked clips (64 + 32) take 0.50 s forward
        and backward in one bf16 pass against 0.73 s in two (docs/performance.md). Encoders with
        BatchNorm get one pass per part, so that batch statistics stay those of each part; only the
        first part (the training batch) updates their running statistics.
        """
        if len(parts) == 1 or (self.one_encoder_pass and self._batch_independent):
            return list(self.encoder(torch.cat(parts)).split([len(p) for p in parts]))
        first = self.encoder(parts[0])
        with running_stats_frozen(self.encoder):
            return [first, *(self.encoder(p) for p in parts[1:])]

    @property
    def _batch_independent(self) -> bool:
        """Whether a sample's encoding does not depend on the rest of its batch (no BatchNorm)."""
        return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.encoder.modules())

    def training_step(self, batch: Batch, epoch: int) -> dict[str, Tensor]:  # type: ignore[override]
        y_l, i_l = batch["y_l"].long(), batch["i_l"].long()
        raw_l, x_l = self.training_input(batch["x_l"])
        encoded: dict[str, tuple[Tensor, Tensor]] = {}
        if self.uses_unlabeled:
            i_u = batch["i_u"].long()
            raw_u, x_u = self.training_input(batch["x_u"])
            extra = self.extra_clips(x_u)
            h_lu, *h_extra = self.encode([torch.cat((x_l, x_u)), *extra.values()])
            encoded = {name: (clip, h) for (name, clip), h in zip(extra.items(), h_extra)}
            t_l, t_u = self.translation(h_lu).split([len(x_l), len(x_u)])
            if self.augment is not None and self.searches_neighbours and self.bank_input != "augmented":
                key_l, key_u = self.bank_keys(torch.cat((raw_l, raw_u))).split([len(x_l), len(x_u)])
            else:
                key_l, key_u = t_l.detach(), t_u.detach()
        else:
            t_l = self.embed(x_l)[1]
            key_l = t_l.detach()
        logits_l = self.classifier(t_l)
        loss = F.cross_entropy(logits_l, y_l)
        out = {"loss_sup": loss.detach(), "acc": (logits_l.detach().argmax(1) == y_l).float().mean() * 100}
        if self.uses_unlabeled:
            extra_terms = self.unlabeled_loss(y_l=y_l, t_l=t_l, x_u=x_u, t_u=t_u, i_u=i_u, key_l=key_l,
                                              key_u=key_u, encoded=encoded)
            weight = self.unlabeled_weight(epoch)
            for name, value in extra_terms.items():
                loss = loss + weight * value
                out[name] = value.detach()
            if self.ramp_up_epochs:
                out["unlabeled_weight"] = torch.tensor(weight)
            out["nei_quality"] = self.neighbour_quality(key_u, i_u, batch["y_u"].long())
            self.bank.update(i_u, key_u)
        self.bank.update(i_l, key_l)
        out["loss"] = loss
        return out

    def unlabeled_loss(self, *, y_l: Tensor, t_l: Tensor, x_u: Tensor, t_u: Tensor, i_u: Tensor,
                       key_l: Tensor, key_u: Tensor,
                       encoded: Mapping[str, tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
        """Weighted extra loss terms by name (each already multiplied by its λ).

        ``y_l`` / ``t_l``: labels and ``h̄`` of the labeled half; ``x_u`` / ``t_u`` / ``i_u``: the
        frame-sampled, augmented unlabeled sequences, their ``h̄`` and their dataset rows;
        ``key_l`` / ``key_u``: what the bank stores for both halves and neighbours are searched with
        (constants; see ``bank_input``); ``encoded``: ``{name: (clip, h)}`` for :meth:`extra_clips`.
        """
        return {}

    # ------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, batches: Iterable[Tensor], seed: int = 0) -> Tensor:
        """Logits for batches of joint sequences, frames drawn by a generator seeded with ``seed``."""
        was_training = self.training
        self.eval()
        device = self.bank.features.device
        generator = torch.Generator(device=device).manual_seed(int(seed))
        out = [self.logits(self.sample_frames(x.to(device), generator)).float().cpu() for x in batches]
        self.train(was_training)
        return torch.cat(out)
