"""The contract between a training method and the engine.

A method is an ``nn.Module`` whose ``forward(batch, epoch)`` runs one training
step's forward pass and returns a dict of scalars, ``"loss"`` among them. The
engine owns everything around it (optimiser, schedule, AMP, DDP wrapping,
checkpointing, logging), so a new method is one short file: a subclass
registered with :func:`register_method`.

Everything a resumed run needs (momentum encoders, memory queues and their
pointers) must live in parameters or registered buffers, so it travels in
``state_dict`` and is restored by ``--resume``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from skelssl.registry import Registry

__all__ = ["Method", "METHODS", "register_method", "create_method", "list_methods"]


class Method(nn.Module):
    """Base class for self-/semi-supervised methods.

    ``batch`` is what the data loader yields: ``(x, label, index)`` with ``x``
    of shape ``(N, C, T, V, M)`` already on the method's device. Augmentations
    run inside the method, batched on that device.
    """

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        return self.training_step(batch, epoch)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        raise TypeError(f"{type(self).__name__} must implement training_step()")

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
