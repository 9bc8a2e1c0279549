"""Trainer callbacks: hooks around epochs and steps, and periodic evaluation monitors (e.g. online KNN).

A callback may return extra metrics from :meth:`Callback.on_epoch_end`; they
are logged with the epoch's training metrics and can drive the ``best``
checkpoint (``train.checkpoint.monitor``). Raising from a hook stops training
(the kill-and-resume tests stop a run that way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from torch import nn

from skelssl.engine.distributed import is_main_process
from skelssl.engine.seed import capture_rng_state, restore_rng_state

if TYPE_CHECKING:
    from skelssl.engine.trainer import Trainer

__all__ = ["Callback", "EvalMonitor", "KNNMonitor", "LambdaCallback"]


class Callback:
    """Override any hook; every one is a no-op by default."""

    def on_fit_start(self, trainer: "Trainer") -> None:
        pass

    def on_epoch_start(self, trainer: "Trainer", epoch: int) -> None:
        pass

    def on_step_end(self, trainer: "Trainer", step: int, metrics: Mapping[str, Any]) -> None:
        """After the optimiser step; ``step`` counts completed steps (1 after the first).

        ``metrics`` are rank-averaged floats on logging steps (``train.log_every``)
        and this rank's 0-dim tensors otherwise.
        """

    def on_epoch_end(self, trainer: "Trainer", epoch: int, metrics: Mapping[str, float]) -> Mapping[str, float] | None:
        return None

    def on_fit_end(self, trainer: "Trainer", result: Mapping[str, Any]) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_step_end=lambda trainer, step, m: ...)``."""

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise ValueError(f"unknown callback hook {name!r}")
            setattr(self, name, fn)


class EvalMonitor(Callback):
    """Every ``every`` epochs (and after the last), log ``evaluate(model)`` under ``prefix/``.

    ``evaluate`` (the online KNN of pretraining, the test-accuracy curve of
    ``skelssl semi``, ...) gets the unwrapped model (the method, not its DDP
    wrapper) and returns scalar metrics, e.g. ``{"joint/top1": 61.2}``; it must leave
    the model's train/eval flags as it found them. Every RNG is restored after
    it, so switching the monitor on does not change the training run. It runs on the main process
    only: the other ranks wait at the next collective, which costs nothing
    they could otherwise use, since they would compute the same numbers.
    """

    def __init__(self, evaluate: Callable[[nn.Module], Mapping[str, Any]], every: int, prefix: str = "knn") -> None:
        if every < 1:
            raise ValueError(f"{type(self).__name__}.every must be >= 1, got {every}")
        self.evaluate = evaluate
        self.every = int(every)
        self.prefix = prefix

    def on_epoch_end(self, trainer: "Trainer", epoch: int, metrics: Mapping[str, float]) -> Mapping[str, float] | None:
        last = epoch + 1 == trainer.epochs
        if not is_main_process() or not ((epoch + 1) % self.every == 0 or last):
            return None
        # Monitoring must not change training: restore every RNG the evaluation may draw from
        # (a DataLoader draws a worker seed from torch's global generator, for one).
        saved = capture_rng_state()
        try:
            results = self.evaluate(trainer.module)
        finally:
            restore_rng_state(saved)
        return {f"{self.prefix}/{k}": float(v) for k, v in results.items() if isinstance(v, (int, float))}


KNNMonitor = EvalMonitor  # the name pretraining's online KNN monitor was introduced under
