"""Preprocessing recipes. Importing this package registers every built-in recipe."""

from skelssl.data.recipes.base import Recipe, RecipeOutput, get_recipe, list_recipes, register_recipe

# Built-in recipes register themselves on import (one line each).
from skelssl.data.recipes import agc_lstm  # noqa: E402,F401
from skelssl.data.recipes import agcn  # noqa: E402,F401
from skelssl.data.recipes import crossclr  # noqa: E402,F401
from skelssl.data.recipes import raw  # noqa: E402,F401
from skelssl.data.recipes import sgn  # noqa: E402,F401
from skelssl.data.recipes import stgcn_kinetics  # noqa: E402,F401

__all__ = ["Recipe", "RecipeOutput", "get_recipe", "list_recipes", "register_recipe"]
