"""Semi-supervised methods on ASSL's network: ASSL and its ablations, supervised-only, S4L, VAT (+EntMin).

Pseudo-labelling is a two-stage procedure over the supervised method, run by
:func:`skelssl.protocols.semi_training.train_semi` (``method.name=pseudo_label``).
"""

from skelssl.methods.semi.assl import ASSL
from skelssl.methods.semi.base import SemiSupervisedMethod
from skelssl.methods.semi.vat import VAT

__all__ = ["SemiSupervisedMethod", "ASSL", "VAT"]
