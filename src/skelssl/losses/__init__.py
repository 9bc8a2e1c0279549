"""Losses shared by the methods (InfoNCE with a memory, CrosSCLR's cross-view NCE)."""

from skelssl.losses.infonce import (
    CrossViewLoss,
    InfoNCELoss,
    cross_view_logits,
    cross_view_loss,
    info_nce_logits,
    info_nce_loss,
    mine_topk_positives,
    multi_positive_nce,
)

__all__ = [
    "InfoNCELoss",
    "info_nce_logits",
    "info_nce_loss",
    "CrossViewLoss",
    "cross_view_logits",
    "cross_view_loss",
    "mine_topk_positives",
    "multi_positive_nce",
]
