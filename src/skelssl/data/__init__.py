"""Skeleton data: layouts, graphs, readers, recipes, canonical format, splits and views."""

from skelssl.data.layouts import SkeletonLayout, get_layout, list_layouts, register_layout
from skelssl.data.types import RawSequence, SkeletonFileError

__all__ = [
    "SkeletonLayout",
    "get_layout",
    "list_layouts",
    "register_layout",
    "RawSequence",
    "SkeletonFileError",
]
