"""Checking the keyword options a user passes to a reader or recipe (``--reader-option`` / ``--recipe-option``).

A misspelled option must never be ignored: it is an error that names the
option, suggests the closest valid one and is raised before any work starts.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any, Iterable

__all__ = ["UnknownOptionError", "keyword_names", "check_options", "check_bool"]


class UnknownOptionError(ValueError):
    """An option the reader or recipe does not take (the message suggests the closest one)."""


def keyword_names(cls: type) -> set[str]:
    """The keyword arguments that ``cls(...)`` accepts by name, over every ``__init__`` of its MRO."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for param in inspect.signature(init).parameters.values():
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) and param.name != "self":
                names.add(param.name)
    return names


def check_options(kind: str, owner: str, given: Iterable[str], accepted: Iterable[str]) -> None:
    """Raise :class:`UnknownOptionError` for the first of ``given`` that is not ``accepted``.

    ``kind`` is "reader" or "recipe", ``owner`` the reader's or recipe's name.
    """
    accepted = sorted(set(accepted))
    for name in given:
        if name in accepted:
            continue
        if not accepted:
            raise UnknownOptionError(f"unknown {kind} option {name!r} for {owner} (it takes none)")
        close = difflib.get_close_matches(name, accepted, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownOptionError(
            f"unknown {kind} option {name!r} for {owner}{hint}; its options: {', '.join(accepted)}"
        )


def check_bool(kind: str, owner: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool, else an error naming the option (``--reader-option x=true`` gives a bool)."""
    if not isinstance(value, bool):
        raise ValueError(f"{kind} option {name!r} of {owner} must be true or false, got {value!r}")
    return value
