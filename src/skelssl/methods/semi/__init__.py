"""Semi-supervised methods on ASSL's network: ASSL and its ablations, supervised-only, S4L, VAT (+EntMin).

Pseudo-labelling is a two-stage procedure over the supervised network
(``method.name=pseudo_label``), run by :func:`skelssl.api.semi_supervised.train_semi`.
"""

from skelssl.methods.semi.assl import ASSL
from skelssl.methods.semi.base import SemiSupervisedMethod
from skelssl.methods.semi.vat import VAT

__all__ = ["SemiSupervisedMethod", "ASSL", "VAT"]
