"""A name -> factory registry shared by every pluggable part of skelssl.

Encoders, decoders, heads, methods, optimisers, schedules and protocols each
keep one :class:`Registry`; anyone can add to them with the ``register``
decorator (timm-style), and ``create(name, **kwargs)`` builds an instance with
the alias's registered defaults overridden by ``kwargs``.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class Registry(Generic[T]):
    """A mapping from names to factories with per-alias default kwargs."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, tuple[Callable[..., T], dict[str, Any]]] = {}

    def register(self, name: str | None = None, *, overwrite: bool = False, **defaults: Any) -> Callable[[F], F]:
        """Decorator: ``@register("stgcn_quarter", width=0.25)`` on a class or function."""

        def wrap(factory: F) -> F:
            key = name or getattr(factory, "__name__", "").lower()
            if not key:
                raise ValueError(f"{self.kind} registry needs a name for {factory!r}")
            if key in self._entries and not overwrite:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._entries[key] = (factory, dict(defaults))
            return factory

        return wrap

    def add(self, name: str, factory: Callable[..., T], *, overwrite: bool = False, **defaults: Any) -> None:
        """Register an alias for an existing factory without decorating it again."""
        self.register(name, overwrite=overwrite, **defaults)(factory)

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {self.names()}")
        return self._entries[name][0]

    def defaults(self, name: str) -> dict[str, Any]:
        """The keyword arguments alias ``name`` was registered with."""
        self.get(name)
        return dict(self._entries[name][1])

    def create(self, name: str, **kwargs: Any) -> T:
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {self.names()}")
        factory, defaults = self._entries[name]
        return factory(**{**defaults, **kwargs})

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
