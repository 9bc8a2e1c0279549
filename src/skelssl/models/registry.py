"""Name → constructor registries for encoders, decoders and heads (timm-style).

A registry entry is any callable returning a module; keyword arguments given to
``create_*`` override the defaults an alias was registered with, so
``create_encoder("stgcn_quarter", in_channels=2)`` keeps the quarter width.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from torch import nn

from skelssl.registry import Registry

__all__ = [
    "Registry",
    "ENCODERS",
    "DECODERS",
    "HEADS",
    "register_encoder",
    "create_encoder",
    "list_encoders",
    "register_decoder",
    "create_decoder",
    "list_decoders",
    "register_head",
    "create_head",
    "list_heads",
]

M = TypeVar("M", bound=nn.Module)
F = TypeVar("F", bound=Callable[..., nn.Module])


ENCODERS: Registry[nn.Module] = Registry("encoder")
DECODERS: Registry[nn.Module] = Registry("decoder")
HEADS: Registry[nn.Module] = Registry("head")


def register_encoder(name: str | None = None, *, overwrite: bool = False, **defaults: Any) -> Callable[[F], F]:
    return ENCODERS.register(name, overwrite=overwrite, **defaults)


def create_encoder(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered encoder, e.g. ``create_encoder("stgcn_quarter", layout="ntu25")``."""
    _load_builtin()
    return ENCODERS.create(name, **kwargs)


def list_encoders() -> list[str]:
    _load_builtin()
    return ENCODERS.names()


def register_decoder(name: str | None = None, *, overwrite: bool = False, **defaults: Any) -> Callable[[F], F]:
    return DECODERS.register(name, overwrite=overwrite, **defaults)


def create_decoder(name: str, **kwargs: Any) -> nn.Module:
    _load_builtin()
    return DECODERS.create(name, **kwargs)


def list_decoders() -> list[str]:
    _load_builtin()
    return DECODERS.names()


def register_head(name: str | None = None, *, overwrite: bool = False, **defaults: Any) -> Callable[[F], F]:
    return HEADS.register(name, overwrite=overwrite, **defaults)


def create_head(name: str, **kwargs: Any) -> nn.Module:
    _load_builtin()
    return HEADS.create(name, **kwargs)


def list_heads() -> list[str]:
    _load_builtin()
    return HEADS.names()


def _load_builtin() -> None:
    # Importing the family modules runs their @register_* decorators; done lazily
    # so ``from skelssl.models.registry import register_encoder`` has no cycle.
    from skelssl.models import agcn, asgcn, cnn, decoders, heads, rnn, stgcn  # noqa: F401
