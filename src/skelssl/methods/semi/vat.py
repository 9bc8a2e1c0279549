"""VAT (Miyato et al., TPAMI 2018) and VAT + conditional entropy minimisation, on ASSL's network.

``L = L_L + vat_weight · KL(p(x_u) ‖ p(x_u + r_adv)) [+ entmin_weight · H(p(x_u))]``
with ``‖r_adv‖ = eps`` per sample, found by power iteration on the input
sequence (after frame sampling). ``eps`` = 1.0 by default: spread over the
40 × 60 coordinates of an N-UCLA clip (``agc_lstm`` units) it is 0.02 per
coordinate, a third of the RMS displacement between consecutive frames
(0.07), and it already flips a third of a trained supervised network's
predictions on its own training clips.

``xi`` is the power iteration's finite-difference step. Miyato et al.'s 1e-6,
spread over 2,400 coordinates, is below float32's resolution of coordinates
near 1: ``x + xi·d`` rounds back to ``x``, the gradient is zero and so is
``r_adv`` (the first N-UCLA grid trained "VAT" as supervised-only this way).
0.1 is ten times smaller than ``eps`` and far above the rounding; on a trained
N-UCLA network (supervised-only, seed 0) the direction it finds is as harmful as the one from 1e-3 (KL
0.59 at eps 1, against 3e-4 for a random direction; docs/semi.md).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from skelssl.losses.semi import entropy_from_logits, vat_loss
from skelssl.methods.base import register_method
from skelssl.methods.semi.base import SemiSupervisedMethod, running_stats_frozen

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
        xi: float = 0.1,
        power_iterations: int = 1,
        vat_weight: float = 1.0,
        entmin_weight: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes, num_samples, **kwargs)
        self.eps, self.xi, self.power_iterations = float(eps), float(xi), int(power_iterations)
        self.vat_weight, self.entmin_weight = float(vat_weight), float(entmin_weight)

    def unlabeled_loss(self, *, y_l: Tensor, t_l: Tensor, x_u: Tensor, t_u: Tensor, i_u: Tensor,
                       **_: Any) -> dict[str, Tensor]:
        logits_u = self.classifier(t_u)
        with running_stats_frozen(self.encoder):  # perturbed clips must not move BatchNorm's test statistics
            terms = {"loss_vat": self.vat_weight * vat_loss(self.logits, x_u, logits_u, eps=self.eps, xi=self.xi,
                                                            iterations=self.power_iterations)}
        if self.entmin_weight:
            terms["loss_ent"] = self.entmin_weight * entropy_from_logits(logits_u)
        return terms
