"""Preprocessing recipes. Importing this package registers every built-in recipe."""

from skelssl.data.recipes.base import Recipe, RecipeOutput, get_recipe, list_recipes, register_recipe

# Built-in recipes register themselves on import (one line each).

__all__ = ["Recipe", "RecipeOutput", "get_recipe", "list_recipes", "register_recipe"]
