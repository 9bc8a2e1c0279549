"""Losses shared by the methods: InfoNCE with a memory, CrosSCLR's cross-view NCE, AimCLR's D³M and
nearest-neighbour mining, ActCLR's similarity mining, NT-Xent, MCC's triplet."""

from skelssl.losses.aimclr import ddm_loss, nearest_neighbour_positives
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
from skelssl.losses.ntxent import nt_xent_logits, nt_xent_loss
from skelssl.losses.similarity_mining import similarity_mining_loss
from skelssl.losses.triplet import triplet_loss

__all__ = [
    "InfoNCELoss",
    "info_nce_logits",
    "info_nce_loss",
    "CrossViewLoss",
    "cross_view_logits",
    "cross_view_loss",
    "mine_topk_positives",
    "multi_positive_nce",
    "nt_xent_logits",
    "nt_xent_loss",
    "triplet_loss",
    "ddm_loss",
    "nearest_neighbour_positives",
    "similarity_mining_loss",
]
