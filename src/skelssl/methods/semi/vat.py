"""VAT (Miyato et al., TPAMI 2018) and VAT + conditional entropy minimisation, on ASSL's network.

``L = L_L + vat_weight · KL(p(x_u) ‖ p(x_u + r_adv)) [+ entmin_weight · H(p(x_u))]``
with ``‖r_adv‖ = eps`` per sample, found by power iteration on the input
sequence (after frame sampling). ``eps`` = 1.0 by default: spread over the
40 × 60 coordinates of an N-UCLA clip it is about 2 cm per coordinate, the
typical joint displacement between two frames.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from skelssl.losses.semi import entropy_from_logits, vat_loss
from skelssl.methods.base import register_method
from skelssl.methods.semi.base import SemiSupervisedMethod

__all__ = ["VAT"]


@register_method("vat_entmin", entmin_weight=1.0)
@register_method("vat")
class VAT(SemiSupervisedMethod):
    def __init__(
        self,
        num_classes: int,
        num_samples: int,
        *,
        eps: float = 1.0,
        xi: float = 1e-6,
        power_iterations: int = 1,
        vat_weight: float = 1.0,
        entmin_weight: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, num_samples, **kwargs)
        self.eps, self.xi, self.power_iterations = float(eps), float(xi), int(power_iterations)
        self.vat_weight, self.entmin_weight = float(vat_weight), float(entmin_weight)

    def unlabeled_loss(self, *, y_l: Tensor, t_l: Tensor, x_u: Tensor, t_u: Tensor, i_u: Tensor,
                       **keys: Tensor) -> dict[str, Tensor]:
        logits_u = self.classifier(t_u)
        terms = {"loss_vat": self.vat_weight * vat_loss(self.logits, x_u, logits_u, eps=self.eps, xi=self.xi,
                                                        iterations=self.power_iterations)}
        if self.entmin_weight:
            terms["loss_ent"] = self.entmin_weight * entropy_from_logits(logits_u)
        return terms
