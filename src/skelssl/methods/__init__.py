"""Training methods; importing this package registers the built-in ones.

Bases: :class:`~skelssl.methods.base.Method` (the engine contract),
:class:`~skelssl.methods.contrastive.ContrastiveMethod` (backbones, projectors,
views, augmentation, evaluation encoders) and
:class:`~skelssl.methods.momentum.MomentumMethod` (EMA copies, shuffle-BN key
forward, MoCo branches). :func:`build_method` builds any registered method
from a config section and a :class:`DatasetInfo`.
"""

from skelssl.methods.actclr import ActCLR
from skelssl.methods.aimclr import AimCLR
from skelssl.methods.base import (METHODS, DatasetInfo, Method, build_method, create_method, list_methods,
                                  register_method)
from skelssl.methods.contrastive import ContrastiveMethod
from skelssl.methods.crossclr import CrosSCLR
from skelssl.methods.mcc import MCC
from skelssl.methods.momentum import MoCoBranch, MomentumMethod, ViewBranch
from skelssl.methods.pretext import ClipOrder, CubicPuzzle, PacePrediction, PretextMethod
from skelssl.methods.semi import ASSL, VAT, SemiSupervisedMethod
from skelssl.methods.simclr import SimCLR
from skelssl.methods.skeletonclr import SkeletonCLR

__all__ = [
    "Method",
    "METHODS",
    "DatasetInfo",
    "register_method",
    "create_method",
    "list_methods",
    "build_method",
    "ContrastiveMethod",
    "MomentumMethod",
    "MoCoBranch",
    "ViewBranch",
    "SkeletonCLR",
    "CrosSCLR",
    "AimCLR",
    "ActCLR",
    "SimCLR",
    "MCC",
    "PretextMethod",
    "PacePrediction",
    "ClipOrder",
    "CubicPuzzle",
    "SemiSupervisedMethod",
    "ASSL",
    "VAT",
]
