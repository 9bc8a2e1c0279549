"""Named augmentation pipelines: :class:`Compose` and :func:`build_pipeline`.

A pipeline spec is a mapping with a ``transforms`` list; each entry is either a
transform (``{"name": <registered name>, **constructor kwargs}``) or
``{"include": <pipeline name or YAML path>}``, which splices in another
pipeline's transforms (``strong`` starts by including ``skeletonclr``). An
include may also ``set`` parameters of the transforms it splices in, by name:
``{"include": "extreme", "set": {"gaussian_blur": {"normalize": true}}}``. Shipped
pipelines live in ``skelssl/configs/augment/<name>.yaml``; adding a YAML file
there is all it takes to add one.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, Union

import torch
import yaml
from torch import Tensor

from skelssl.augment.base import Params, RandomOp, Transform, check_batch, get_transform
from skelssl.data.layouts import SkeletonLayout, get_layout

__all__ = [
    "Compose",
    "PipelineOutput",
    "build_pipeline",
    "build_transform",
    "list_pipelines",
    "load_pipeline_spec",
]

PipelineSource = Union[str, os.PathLike, Mapping[str, Any], Sequence[Mapping[str, Any]]]
_MAX_INCLUDE_DEPTH = 8


class PipelineOutput(NamedTuple):
    """Result of :meth:`Compose.run`: the batch, its valid lengths (None = all) and each step's params."""

    x: Tensor
    lengths: Tensor | None
    params: list[Params]


class Compose:
    """Applies transforms in order; ``pipeline(x, generator)`` returns the augmented batch.

    One generator is threaded through all steps, so a seeded generator makes
    the whole pipeline reproducible, and calling the pipeline twice with the
    same generator gives two independent views.
    """

    def __init__(self, transforms: Sequence[Transform], name: str = "custom", description: str = "") -> None:
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(
                    f"Compose only takes batch -> batch transforms; {t!r} returns a result tuple, call it directly"
                )
        self.transforms: list[Transform] = list(transforms)
        self.name = name
        self.description = description

    def __call__(self, x: Tensor, generator: torch.Generator | None = None, *, lengths: Tensor | None = None) -> Tensor:
        return self.run(x, generator, lengths=lengths).x

    def run(
        self, x: Tensor, generator: torch.Generator | None = None, *, lengths: Tensor | None = None
    ) -> PipelineOutput:
        """Like calling the pipeline, but also returns every step's params and the final lengths."""
        return self._run(x, generator, None, lengths)

    def replay(self, x: Tensor, params: Sequence[Params], *, lengths: Tensor | None = None) -> Tensor:
        """Re-applies params recorded by :meth:`run` (deterministic)."""
        if len(params) != len(self.transforms):
            raise ValueError(f"{len(params)} param sets for {len(self.transforms)} transforms")
        return self._run(x, None, params, lengths).x

    def _run(
        self, x: Tensor, generator: torch.Generator | None, replay: Sequence[Params] | None, lengths: Tensor | None
    ) -> PipelineOutput:
        check_batch(x)
        user_storage = x.untyped_storage().data_ptr()
        owned = False
        all_params: list[Params] = []
        for i, t in enumerate(self.transforms):
            params = t.sample_params(x, generator, lengths) if replay is None else replay[i]
            # Once a step has produced a fresh batch the pipeline owns it, and
            # later steps may overwrite it instead of allocating another copy;
            # the caller's tensor is never written.
            out = t.apply_(x, params, lengths) if owned else t.apply(x, params, lengths)
            owned = out.untyped_storage().data_ptr() != user_storage
            lengths = t.output_lengths(lengths, out)
            all_params.append(params)
            x = out
        return PipelineOutput(x, lengths, all_params)

    def __len__(self) -> int:
        return len(self.transforms)

    def __iter__(self) -> Iterator[Transform]:
        return iter(self.transforms)

    def __getitem__(self, i: int) -> Transform:
        return self.transforms[i]

    def __repr__(self) -> str:
        inner = "".join(f"\n  {t!r}," for t in self.transforms)
        return f"Compose(name={self.name!r}, [{inner}\n])"


def _package_dir() -> Any:
    return resources.files("skelssl").joinpath("configs").joinpath("augment")


def list_pipelines() -> list[str]:
    """Names of the pipelines shipped with the package."""
    return sorted(p.name[: -len(".yaml")] for p in _package_dir().iterdir() if p.name.endswith(".yaml"))


def _looks_like_path(s: str) -> bool:
    return s.endswith((".yaml", ".yml")) or os.sep in s or "/" in s


def load_pipeline_spec(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """Reads a pipeline spec from a shipped name (``"strong"``) or a YAML file path."""
    key = os.fspath(name_or_path)
    if not _looks_like_path(key):
        res = _package_dir().joinpath(f"{key}.yaml")
        if not res.is_file():
            raise KeyError(f"unknown augmentation pipeline {key!r}; shipped: {list_pipelines()}")
        text, origin = res.read_text(encoding="utf-8"), f"skelssl/configs/augment/{key}.yaml"
    else:
        path = Path(key)
        if not path.is_file():
            raise FileNotFoundError(f"augmentation pipeline file {key!r} does not exist")
        text, origin = path.read_text(encoding="utf-8"), str(path)
    spec = yaml.safe_load(text)
    if isinstance(spec, list):
        spec = {"transforms": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("transforms"), list):
        raise ValueError(f"{origin}: a pipeline file needs a top-level 'transforms' list")
    spec.setdefault("name", Path(key).stem)
    return spec


def build_transform(spec: Mapping[str, Any], layout: SkeletonLayout | str | None = None) -> RandomOp:
    """Builds one transform from ``{"name": ..., **kwargs}``; passes ``layout`` to those that take one."""
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(f"a transform spec needs a 'name' key, got {spec!r}")
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    cls = get_transform(spec["name"])
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(kwargs) - set(accepted) - {"self"})
    if unknown:
        options = sorted(k for k in accepted if k not in ("self", "layout"))
        raise ValueError(f"transform {spec['name']!r}: unknown parameter(s) {unknown}; it takes {options}")
    if "layout" in accepted and "layout" not in kwargs and layout is not None:
        kwargs["layout"] = layout
    return cls(**kwargs)


def _expand(entries: Sequence[Any], depth: int) -> list[Mapping[str, Any]]:
    if depth > _MAX_INCLUDE_DEPTH:
        raise ValueError("augmentation pipeline includes nest too deeply (a cycle?)")
    out: list[Mapping[str, Any]] = []
    for entry in entries:
        if isinstance(entry, Mapping) and "include" in entry:
            extra = sorted(set(entry) - {"include", "set"})
            if extra:
                raise ValueError(f"an include entry takes only 'include' and 'set', got {extra} in {dict(entry)!r}")
            included = _expand(load_pipeline_spec(entry["include"])["transforms"], depth + 1)
            out.extend(_set_params(included, entry.get("set") or {}, entry["include"]))
        else:
            out.append(entry)
    return out


def _set_params(transforms: list[Mapping[str, Any]], changes: Mapping[str, Any], source: Any) -> list[Mapping[str, Any]]:
    """``transforms`` with an include's ``set`` applied: ``{transform name: {parameter: value}}``."""
    if not isinstance(changes, Mapping):
        raise ValueError(f"include {source!r}: 'set' must map transform names to parameters, got {changes!r}")
    names = [t.get("name") for t in transforms]
    for name, params in changes.items():
        if name not in names:
            close = difflib.get_close_matches(str(name), [str(n) for n in names], n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"include {source!r}: 'set' names {name!r}, which it does not contain "
                             f"(it has {names}){hint}")
        if not isinstance(params, Mapping) or "name" in params:
            raise ValueError(f"include {source!r}: 'set' of {name!r} must be a mapping of parameters, got {params!r}")
    return [{**t, **changes.get(t.get("name"), {})} for t in transforms]


def build_pipeline(source: PipelineSource, layout: SkeletonLayout | str | None = None) -> Compose:
    """Builds a :class:`Compose` from a shipped pipeline name, a YAML path, a spec mapping or a list of transform specs.

    ``layout`` (name or :class:`~skelssl.data.layouts.SkeletonLayout`) is
    handed to every transform that needs one (flips, rotations on 2-D layouts,
    the virtual camera's pivot).
    """
    if isinstance(source, (str, os.PathLike)):
        spec = load_pipeline_spec(source)
    elif isinstance(source, Mapping):
        spec = dict(source)
        if not isinstance(spec.get("transforms"), list):
            raise ValueError("a pipeline spec mapping needs a 'transforms' list")
    elif isinstance(source, Sequence):
        spec = {"transforms": list(source)}
    else:
        raise TypeError(f"cannot build a pipeline from {type(source).__name__}")
    lay = None if layout is None else get_layout(layout)
    transforms = [build_transform(e, lay) for e in _expand(spec["transforms"], 0)]
    return Compose(transforms, name=str(spec.get("name", "custom")), description=str(spec.get("description", "")))
