"""The contract between a training method and the engine, and the one place methods are built.

A method is an ``nn.Module`` whose ``forward(batch, epoch)`` runs one training
step's forward pass and returns a dict of scalars, ``"loss"`` among them. The
engine owns everything around it (optimiser, schedule, AMP, DDP wrapping,
checkpointing, logging), so a new method is one short file: a subclass
registered with :func:`register_method` (most build on
:class:`~skelssl.methods.contrastive.ContrastiveMethod` or
:class:`~skelssl.methods.momentum.MomentumMethod`).

Everything a resumed run needs (momentum encoders, memory queues and their
pointers) must live in parameters or registered buffers, so it travels in
``state_dict`` and is restored by ``--resume``.

:func:`build_method` turns a config's ``method`` section and a
:class:`DatasetInfo` into a method: the section's keys are the constructor's
keyword arguments (a misspelt one is an error with a did-you-mean before any
work starts) and the dataset fills in only the fields the method declares in
``dataset_fields`` (layout and channels for a pretraining method; classes and
sample count for a semi-supervised one).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from skelssl.registry import Registry

__all__ = [
    "Method",
    "METHODS",
    "DatasetInfo",
    "register_method",
    "create_method",
    "list_methods",
    "build_method",
]


@dataclass(frozen=True)
class DatasetInfo:
    """What a method may need to know about the data it trains on."""

    layout: str = "ntu25"
    in_channels: int = 3
    num_frames: int = 50
    num_person: int = 1
    num_classes: int = 0
    num_samples: int = 0

    @classmethod
    def from_prepared(cls, prepared: Any) -> "DatasetInfo":
        """From a :class:`~skelssl.data.canonical.PreparedDataset`: its ``(N, C, T, V, M)`` shape, labels and the
        frames a model sees (the recipe's clip length, else T)."""
        from skelssl.data.dataset import input_frames

        n, channels, _, _, persons = prepared.info["shape"]
        return cls(layout=prepared.layout.name, in_channels=int(channels), num_frames=input_frames(prepared),
                   num_person=int(persons), num_classes=int(prepared.num_classes), num_samples=int(n))


DATASET_FIELDS = tuple(DatasetInfo.__dataclass_fields__)
# Factories that take **kwargs and do not say what they use get what every pretraining method takes.
_PRETRAIN_FIELDS = ("layout", "in_channels", "num_frames")


class Method(nn.Module):
    """Base class for self-/semi-supervised methods.

    ``batch`` is what the data loader yields: ``(x, label, index)`` with ``x``
    of shape ``(N, C, T, V, M)`` already on the method's device. Augmentations
    run inside the method, batched on that device.
    """

    #: The :class:`DatasetInfo` fields the constructor takes (filled in by :func:`build_method`).
    dataset_fields: ClassVar[tuple[str, ...]] = ()

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        return self.training_step(batch, epoch)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        raise TypeError(f"{type(self).__name__} must implement training_step()")

    def setup(self, dataset: Any) -> None:
        """Called once before training with the training dataset (``(x, label, index)`` items).

        For statistics a method needs before its first step (e.g. a dataset-wide
        average motion). It runs on every rank with the same dataset, before the
        engine wraps the method in DDP, which then broadcasts rank 0's parameters
        and buffers; so state kept in buffers is identical on all ranks. It runs
        on a resumed run too (the checkpoint is loaded afterwards and wins).
        """

    def on_train_start(self, total_steps: int) -> None:
        """Called by the engine when training (re)starts, with the run's number of optimiser steps."""

    def after_optimizer_step(self) -> None:
        """Called after every optimiser step (momentum-encoder updates go here)."""

    def on_train_epoch_start(self, epoch: int) -> None:
        """Called at the start of every epoch (stage switches go here)."""

    def eval_encoders(self) -> dict[str, nn.Module]:
        """Encoders to evaluate, keyed by view name (e.g. ``{"joint": encoder}``).

        Each maps ``(N, C, T, V, M)`` *joint-coordinate* input to pooled features
        ``(N, D)``, converting to its own view inside (and says so with
        ``input_view = "joint"``), so protocols never need to know about views.
        """
        raise TypeError(f"{type(self).__name__} must implement eval_encoders()")


METHODS: Registry[Method] = Registry("method")


def register_method(name: str, **defaults: Any):
    return METHODS.register(name, **defaults)


def create_method(name: str, **kwargs: Any) -> Method:
    return METHODS.create(name, **kwargs)


def list_methods() -> list[str]:
    return METHODS.names()


def build_method(cfg: Mapping[str, Any], dataset_info: DatasetInfo | Any) -> Method:
    """The method named ``cfg["name"]`` with the other keys as kwargs, for a dataset (fresh weights).

    ``dataset_info`` is a :class:`DatasetInfo` or a prepared dataset. Only the
    fields the method declares (``dataset_fields``, else the ones its
    signature names) are passed, and a field the config sets explicitly wins.
    """
    import skelssl.methods  # noqa: F401  (registers the shipped methods)
    from skelssl.methods.components import to_container

    kwargs = dict(to_container(cfg))
    name = kwargs.pop("name", None)
    check_method_options(cfg)
    info = dataset_info if isinstance(dataset_info, DatasetInfo) else DatasetInfo.from_prepared(dataset_info)
    factory, defaults = METHODS.get(name), METHODS.defaults(name)
    accepted = _accepted_kwargs(factory)
    fields = _dataset_fields(factory, accepted)
    filled = {k: v for k, v in asdict(info).items() if k in fields and k not in kwargs and k not in defaults}
    return METHODS.create(name, **filled, **kwargs)


def check_method_options(cfg: Mapping[str, Any], where: Mapping[str, str] | None = None) -> None:
    """Raise ``ValueError`` (one line, with a did-you-mean) for a ``method`` key nobody reads.

    Checks the method's name, its keyword arguments (following ``**kwargs`` up
    the class bases) and the keyword arguments of the registry specs it holds
    (``method.encoder``, ``method.decoder``: ``{name: ..., **kwargs}``), from
    the config alone, so a typo fails before any data is read or file written.
    ``where`` maps dotted keys to the file or override that set them.
    """
    import skelssl.methods  # noqa: F401  (registers the shipped methods)
    from skelssl.methods.components import to_container

    kwargs = dict(to_container(cfg))
    name = kwargs.pop("name", None)
    if name not in METHODS:
        close = difflib.get_close_matches(str(name), METHODS.names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"method.name{_source(where, 'method.name')}: unknown method {name!r}{hint}; "
                         f"known: {', '.join(METHODS.names())}")
    accepted = _accepted_kwargs(METHODS.get(name))
    if accepted is not None:
        _check_keys("method", f"{name} takes no option", kwargs, accepted - set(DATASET_FIELDS), accepted, where)
    for key, registry in _spec_registries().items():
        spec = kwargs.get(key)
        if not isinstance(spec, Mapping) or "name" not in spec:
            continue
        spec_name = spec["name"]
        if spec_name not in registry:
            close = difflib.get_close_matches(str(spec_name), registry.names(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"method.{key}.name{_source(where, f'method.{key}.name')}: unknown {registry.kind} "
                             f"{spec_name!r}{hint}; known: {', '.join(registry.names())}")
        spec_accepted = _accepted_kwargs(registry.get(spec_name))
        if spec_accepted is not None:
            options = {k: v for k, v in spec.items() if k != "name"}
            _check_keys(f"method.{key}", f"{registry.kind} {spec_name} takes no option", options, spec_accepted,
                        spec_accepted, where)


def check_encoder_spec(spec: Mapping[str, Any], prefix: str, where: Mapping[str, str] | None = None) -> None:
    """The same check for an encoder spec elsewhere (``model.encoder`` of a supervised config)."""
    from skelssl.models.registry import ENCODERS

    name = spec.get("name")
    if name not in ENCODERS:
        close = difflib.get_close_matches(str(name), ENCODERS.names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{prefix}.name{_source(where, prefix + '.name')}: unknown encoder {name!r}{hint}; "
                         f"known: {', '.join(ENCODERS.names())}")
    accepted = _accepted_kwargs(ENCODERS.get(name))
    if accepted is not None:
        options = {k: v for k, v in spec.items() if k != "name"}
        _check_keys(prefix, f"encoder {name} takes no option", options, accepted, accepted, where)


def _spec_registries() -> dict[str, Registry]:
    from skelssl.models.registry import DECODERS, ENCODERS

    return {"encoder": ENCODERS, "decoder": DECODERS}


def _check_keys(prefix: str, what: str, given: Mapping[str, Any], suggest: set[str], accepted: set[str],
                where: Mapping[str, str] | None) -> None:
    for key in sorted(set(given) - accepted):
        close = difflib.get_close_matches(key, sorted(suggest), n=1)
        hint = f" (did you mean '{prefix}.{close[0]}'?)" if close else ""
        raise ValueError(f"{prefix}.{key}{_source(where, f'{prefix}.{key}')}: {what} {key!r}{hint}")


def _source(where: Mapping[str, str] | None, key: str) -> str:
    origin = (where or {}).get(key)
    return f" (set in {origin})" if origin else ""


def _accepted_kwargs(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword arguments a factory takes, following ``**kwargs`` up a class's bases; None if open-ended."""
    names: set[str] = set()
    for fn in _init_chain(factory):
        params = inspect.signature(fn).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names - {"self"}
    return None


def _init_chain(factory: Callable[..., Any]) -> list[Callable[..., Any]]:
    if not isinstance(factory, type):
        return [factory]
    return [c.__init__ for c in factory.__mro__ if "__init__" in vars(c) and c not in (nn.Module, object)]


def _dataset_fields(factory: Callable[..., Any], accepted: set[str] | None) -> tuple[str, ...]:
    declared = getattr(factory, "dataset_fields", None)
    if declared:
        return tuple(declared)
    if accepted is None:
        return _PRETRAIN_FIELDS
    return tuple(f for f in DATASET_FIELDS if f in accepted)
