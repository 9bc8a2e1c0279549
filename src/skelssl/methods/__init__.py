"""Training methods; importing this package registers the built-in ones."""

from skelssl.methods.base import METHODS, Method, create_method, list_methods, register_method
from skelssl.methods.crossclr import CrosSCLR
from skelssl.methods.semi import ASSL, VAT, SemiSupervisedMethod
from skelssl.methods.skeletonclr import SkeletonCLR

__all__ = [
    "Method",
    "METHODS",
    "register_method",
    "create_method",
    "list_methods",
    "SkeletonCLR",
    "CrosSCLR",
    "SemiSupervisedMethod",
    "ASSL",
    "VAT",
]
