"""ASSL (Si et al., ECCV 2020) and its ablations: inpainting, neighbourhood consistency, adversarial alignment.

``L = L_L + λ1 (L_KL + L_CE^c + L_inp) + λ2 L_adv`` with λ1 = 1, λ2 = 0.1.
Each term has a switch, which gives the paper's ablation rows::

    supervised   (all off)               Sup.
    s4l          inpaint                 Sup.+Inp.  (= S4L with inpainting, the paper's 46.6 in both rows)
    assl         inpaint + nei + adv     ASSL
    pseudo_label (all off)               the network :func:`skelssl.api.semi_supervised.semi` trains twice
    assl method.inpaint=false ...        Sup.+Nei., Sup.+Inp.+Nei., ... (any combination)

* **Inpainting (§3.2).** The unlabeled half of the batch is masked
  (``mask``: random frames hidden), encoded, and a 2-layer GRU decoder
  conditioned on the masked sequence's feature reconstructs it; ``L_inp`` is
  the mean squared error to the original over the whole sequence. The labeled
  half already has a supervised signal, so only the unlabeled half is masked;
  its masked clips go through the encoder in the same pass as the training
  batch (:meth:`SemiSupervisedMethod.encode`), then through the decoder.
* **Neighbourhood consistency (§3.3).** Each unlabeled anchor's K nearest
  unlabeled neighbours (Euclidean in ``h̄``, from the feature bank, the anchor
  itself excluded) are weighted by the message-aggregation MLP on
  ``|h̄_u − h̄_uᵏ|`` into the local centre ``c_u``; ``L_KL`` (eq. 3) pulls the
  anchor's and its positive neighbours' predictions to the centre's, where a
  neighbour is positive when its nearest labeled sample has the same label as
  the anchor's nearest labeled sample. Each labeled anchor's centre over its
  K unlabeled neighbours is classified with its own label (``L_CE^c``, eq. 4).
* **Adversarial alignment (§3.4, eq. 6).** A 4-layer discriminator separates
  labeled from unlabeled ``h̄``; it is trained through a gradient-reversal
  layer, so the single optimiser step both improves the discriminator and
  pushes the encoder and translation layer to confuse it.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch.nn.functional as F
from torch import Tensor

from skelssl.augment.masking import InpaintingMask
from skelssl.losses.semi import (adversarial_loss, centre_cross_entropy, local_centre, nearest_neighbours,
                                 neighbour_kl, neighbour_weights, positive_neighbours)
from skelssl.methods.base import register_method
from skelssl.methods.semi.base import SemiSupervisedMethod
from skelssl.models.decoders import GRUInpaintDecoder
from skelssl.models.heads import Discriminator, MessageAggregation

__all__ = ["ASSL"]


@register_method("supervised", inpaint=False, neighbourhood=False, adversarial=False)
@register_method("pseudo_label", inpaint=False, neighbourhood=False, adversarial=False)
@register_method("s4l", inpaint=True, neighbourhood=False, adversarial=False)
@register_method("assl")
class ASSL(SemiSupervisedMethod):
    def __init__(
        self,
        num_classes: int,
        num_samples: int,
        *,
        inpaint: bool = True,
        neighbourhood: bool = True,
        adversarial: bool = True,
        lambda1: float = 1.0,
        lambda2: float = 0.1,
        mask: Mapping[str, Any] | None = None,
        decoder_hidden: int = 512,
        aggregation_hidden: int = 256,
        discriminator_hidden: int = 256,
        detach_centre_target: bool = False,
        centre_ce: bool = True,
        adversarial_moves_labeled: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, num_samples, **kwargs)
        self.inpaint, self.neighbourhood, self.adversarial = bool(inpaint), bool(neighbourhood), bool(adversarial)
        self.uses_unlabeled = self.inpaint or self.neighbourhood or self.adversarial
        self.searches_neighbours = self.neighbourhood
        self.lambda1, self.lambda2 = float(lambda1), float(lambda2)
        self.detach_centre_target = bool(detach_centre_target)
        # L_CE^c (eq. 4) switched off alone: an ablation the paper does not run (docs/semi.md).
        self.centre_ce = bool(centre_ce)
        # False: the one-sided reversal (only unlabeled features are pushed to look labeled).
        self.adversarial_moves_labeled = bool(adversarial_moves_labeled)
        dim = self.translation.out_features
        if self.inpaint:
            self.masker = InpaintingMask(**dict(mask or {"frame_ratio": 0.3}))
            self.decoder = GRUInpaintDecoder(self.encoder.feature_dim, self.in_channels, self.layout,
                                             self.num_person, hidden_size=decoder_hidden)
        if self.neighbourhood:
            self.aggregation = MessageAggregation(dim, 1, hidden_dim=aggregation_hidden)
        if self.adversarial:
            self.discriminator = Discriminator(dim, hidden_dim=discriminator_hidden)

    def extra_clips(self, x_u: Tensor) -> dict[str, Tensor]:
        # The masked clips are encoded in the same pass as the training batch (SemiSupervisedMethod.encode).
        return {"masked": self.masker(x_u).x} if self.inpaint else {}

    def unlabeled_loss(self, *, y_l: Tensor, t_l: Tensor, x_u: Tensor, t_u: Tensor, i_u: Tensor,
                       key_l: Tensor, key_u: Tensor,
                       encoded: Mapping[str, tuple[Tensor, Tensor]]) -> dict[str, Tensor]:
        terms: dict[str, Tensor] = {}
        if self.inpaint:
            masked, h_masked = encoded["masked"]
            restored = self.decoder(masked, h_masked)
            terms["loss_inp"] = self.lambda1 * F.mse_loss(restored, x_u)
        if self.neighbourhood:
            kl, ce = self.neighbourhood_losses(y_l, t_l, t_u, i_u, key_l, key_u)
            terms["loss_kl"] = self.lambda1 * kl
            if self.centre_ce:
                terms["loss_cec"] = self.lambda1 * ce
        if self.adversarial:
            terms["loss_adv"] = self.lambda2 * adversarial_loss(self.discriminator, t_l, t_u,
                                                                   move_labeled=self.adversarial_moves_labeled)
        return terms

    def neighbourhood_losses(self, y_l: Tensor, t_l: Tensor, t_u: Tensor, i_u: Tensor, key_l: Tensor,
                             key_u: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(L_KL, L_CE^c)`` for a batch, neighbours taken from the bank (``L_CE^c`` None when switched off).

        Neighbours are searched with the keys (``bank_input``); the losses use the training features.
        """
        bank = self.bank.features
        unlabeled, labeled = self.unlabeled_rows(), self.labeled_rows()
        n, k = len(t_u), self.k
        # Unlabeled anchors: centre over unlabeled neighbours, positives via the nearest labeled sample.
        nb_u = bank[nearest_neighbours(key_u, bank, unlabeled, k, exclude=i_u)]  # (N, K, D)
        centre_u = local_centre(neighbour_weights(self.aggregation, t_u, nb_u), nb_u)
        proxy = self.bank.label[nearest_neighbours(key_u, bank, labeled, 1)[:, 0]]
        proxy_nb = self.bank.label[nearest_neighbours(nb_u.reshape(n * k, -1), bank, labeled, 1)[:, 0]].view(n, k)
        centre_logits = self.classifier(centre_u)
        if self.detach_centre_target:
            centre_logits = centre_logits.detach()
        kl = neighbour_kl(centre_logits, self.classifier(t_u), self.classifier(nb_u),
                          positive_neighbours(proxy, proxy_nb))
        if not self.centre_ce:
            return kl, None
        # Labeled anchors: the centre of their unlabeled neighbours must carry their label.
        nb_l = bank[nearest_neighbours(key_l, bank, unlabeled, k)]
        centre_l = local_centre(neighbour_weights(self.aggregation, t_l, nb_l), nb_l)
        return kl, centre_cross_entropy(self.classifier(centre_l), y_l)
