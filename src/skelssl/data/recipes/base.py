"""The preprocessing-recipe interface and its registry.

A recipe turns one :class:`RawSequence` into the canonical training array
``(C, T, V, M)`` (float32) with a fixed ``T = num_frames`` and ``M = num_bodies``.
Each named preset reproduces one line of published work; docs/recipes.md
lists every step and constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from skelssl.data.layouts import SkeletonLayout
from skelssl.data.options import check_options, keyword_names
from skelssl.data.types import RawSequence
from skelssl.registry import Registry

__all__ = ["RECIPES", "Recipe", "RecipeOutput", "register_recipe", "get_recipe", "list_recipes"]


@dataclass
class RecipeOutput:
    data: np.ndarray  # (C, T, V, M) float32
    valid_frames: int  # frames of ``data`` that hold the sequence (the rest is padding)


class Recipe:
    """Base class: subclasses implement :meth:`apply`."""

    name: str = ""
    num_frames: int = 50
    num_bodies: int = 2

    def __init__(self, num_frames: int | None = None, num_bodies: int | None = None) -> None:
        if num_frames is not None:
            self.num_frames = int(num_frames)
        if num_bodies is not None:
            self.num_bodies = int(num_bodies)

    def __call__(self, seq: RawSequence) -> RecipeOutput:
        out = self.apply(seq)
        expected = (seq.joints.shape[3], self.num_frames, seq.joints.shape[2], self.num_bodies)
        if out.data.shape != expected:
            raise AssertionError(f"recipe {self.name!r} produced {out.data.shape}, expected {expected}")
        return RecipeOutput(np.ascontiguousarray(out.data, dtype=np.float32), int(out.valid_frames))

    def apply(self, seq: RawSequence) -> RecipeOutput:  # pragma: no cover - overridden
        raise TypeError(f"{type(self).__name__} must implement apply()")

    def describe(self) -> dict:
        return {"name": self.name, "num_frames": self.num_frames, "num_bodies": self.num_bodies}

    def required_roles(self) -> tuple[str, ...]:
        """Layout roles (``spine_shoulder``, ``left_shoulder``, ...) this recipe, as configured, reads."""
        return ()

    def check_layout(self, layout: SkeletonLayout) -> None:
        """Raise ``ValueError`` naming every role ``layout`` lacks, so the run stops before any work."""
        missing = [r for r in self.required_roles() if r not in layout.roles]
        if missing:
            raise ValueError(
                f"recipe {self.name!r} needs layout roles {', '.join(self.required_roles())}; layout "
                f"{layout.name!r} does not define {', '.join(missing)} (add them to the layout's 'roles', "
                "see docs/own-data.md, or pick another recipe)"
            )


RECIPES: Registry[Recipe] = Registry("recipe")


def register_recipe(name: str) -> Callable[[type[Recipe]], type[Recipe]]:
    def wrap(cls: type[Recipe]) -> type[Recipe]:
        cls.name = name
        return RECIPES.register(name)(cls)

    return wrap


def get_recipe(name: str, **options) -> Recipe:
    """The recipe ``name`` built with ``options``; an unknown option is an error naming the closest one."""
    cls = RECIPES.get(name)
    if isinstance(cls, type):
        check_options("recipe", name, options, keyword_names(cls))
    return RECIPES.create(name, **options)


def list_recipes() -> list[str]:
    return RECIPES.names()
