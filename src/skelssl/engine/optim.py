"""Optimisers (``sgd``, ``adam``, ``adamw``, ``lars``), per-step LR schedules and gradient clipping.

Both registries take the config section minus ``name`` as kwargs:
``build_optimizer(model, {"name": "lars", "lr": 4.8, "weight_decay": 1e-6})``,
``build_schedule({"name": "cosine", "warmup_epochs": 10}, optimizer, steps_per_epoch, epochs)``.
Schedules are pure functions of the global step (``lr = initial_lr × factor(step)``),
so a resumed run needs nothing but the step to land on the same learning rate.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from skelssl.registry import Registry

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "LARS",
    "LRSchedule",
    "StepSchedule",
    "CosineSchedule",
    "ConstantSchedule",
    "build_optimizer",
    "build_schedule",
    "param_groups",
    "accepted_options",
    "clip_gradients",
]

OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")
SCHEDULES: Registry["LRSchedule"] = Registry("schedule")


class LARS(Optimizer):
    """Layer-wise adaptive rate scaling (You et al. 2017) as used by SimCLR.

    Per parameter: ``g += weight_decay·w``; ``trust = eta·‖w‖/‖g‖`` (1 when
    either norm is 0); ``v = momentum·v + lr·trust·g``; ``w -= v`` (with
    Nesterov: ``w -= momentum·v + lr·trust·g``). Groups with
    ``lars_exclude=True`` (biases and normalisation parameters, see
    :func:`param_groups`) get neither weight decay nor the trust ratio, i.e.
    plain momentum SGD. The learning rate is folded into the momentum buffer,
    as in SimCLR's implementation.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        eta: float = 0.001,
        nesterov: bool = False,
    ) -> None:
        if lr <= 0:
            raise ValueError(f"LARS lr must be > 0, got {lr}")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, nesterov=nesterov, lars_exclude=False)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                scaled_lr: Tensor | float = group["lr"]
                if not group["lars_exclude"]:
                    if group["weight_decay"]:
                        grad = grad.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(grad)
                    ratio = torch.where(
                        (w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm, torch.ones_like(w_norm)
                    )
                    scaled_lr = ratio * group["lr"]
                update = grad * scaled_lr
                state = self.state[p]
                if group["momentum"]:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = torch.zeros_like(p)
                    buf.mul_(group["momentum"]).add_(update)
                    update = update.add(buf, alpha=group["momentum"]) if group["nesterov"] else buf
                p.sub_(update)
        return loss


def param_groups(model: nn.Module | Iterable[nn.Parameter], exclude_bias_norm: bool) -> list[dict[str, Any]]:
    """Trainable parameters, split so biases and norm weights (``ndim <= 1``) skip weight decay / LARS.

    ``ndim <= 1`` catches every bias and every BatchNorm/LayerNorm affine
    parameter by shape, the same set SimCLR excludes by name.
    """
    params = [p for p in (model.parameters() if isinstance(model, nn.Module) else model) if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (requires_grad=True)")
    if not exclude_bias_norm:
        return [{"params": params}]
    decay = [p for p in params if p.ndim > 1]
    plain = [p for p in params if p.ndim <= 1]
    groups = [{"params": decay}] if decay else []
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0, "lars_exclude": True})
    return groups


@OPTIMIZERS.register("sgd")
def _sgd(groups: list[dict], lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
         nesterov: bool = False, dampening: float = 0.0) -> Optimizer:
    return torch.optim.SGD(_strip(groups), lr=lr, momentum=momentum, weight_decay=weight_decay,
                           nesterov=nesterov, dampening=dampening)


@OPTIMIZERS.register("adam")
def _adam(groups: list[dict], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
          weight_decay: float = 0.0, amsgrad: bool = False) -> Optimizer:
    return torch.optim.Adam(_strip(groups), lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


@OPTIMIZERS.register("adamw")
def _adamw(groups: list[dict], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
           weight_decay: float = 0.01, amsgrad: bool = False) -> Optimizer:
    return torch.optim.AdamW(_strip(groups), lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


@OPTIMIZERS.register("lars")
def _lars(groups: list[dict], lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
          eta: float = 0.001, nesterov: bool = False) -> Optimizer:
    return LARS(groups, lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta, nesterov=nesterov)


def _strip(groups: list[dict]) -> list[dict]:
    # torch's optimisers would carry an unknown group key along harmlessly, but keep their groups clean.
    return [{k: v for k, v in g.items() if k != "lars_exclude"} for g in groups]


# LARS is defined by the exclusion; for the others it is opt-in (the reference recipes decay everything).
_EXCLUDE_DEFAULT = {"lars": True}


def build_optimizer(model: nn.Module | Iterable[nn.Parameter], cfg: Mapping[str, Any]) -> Optimizer:
    """Build the optimiser named ``cfg["name"]`` over the model's trainable parameters.

    ``exclude_bias_norm`` (default: true for ``lars`` only) removes biases and
    normalisation parameters from weight decay (and from LARS adaptation).
    """
    options = dict(cfg)
    name = options.pop("name", None)
    if name not in OPTIMIZERS:
        raise ValueError(f"train.optimizer.name: unknown optimizer {name!r}; known: {OPTIMIZERS.names()}")
    exclude = bool(options.pop("exclude_bias_norm", _EXCLUDE_DEFAULT.get(name, False)))
    _check_options(f"optimizer {name!r}", OPTIMIZERS.get(name), options, skip=1)
    return OPTIMIZERS.create(name, groups=param_groups(model, exclude), **options)


def accepted_options(section: str, name: str) -> set[str] | None:
    """Config keys (besides ``name``) the ``optimizer``/``schedule`` called ``name`` takes; None if unknown."""
    if section == "optimizer" and name in OPTIMIZERS:
        return _accepted(OPTIMIZERS.get(name), skip=1) | {"exclude_bias_norm"}
    if section == "schedule" and name in SCHEDULES:
        return _accepted(SCHEDULES.get(name).__init__, skip=4)
    return None


def _accepted(factory: Callable[..., Any], skip: int) -> set[str]:
    params = list(inspect.signature(factory).parameters.values())[skip:]
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _check_options(what: str, factory: Callable[..., Any], options: Mapping[str, Any], skip: int) -> None:
    params = list(inspect.signature(factory).parameters.values())[skip:]
    accepted = _accepted(factory, skip)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"{what}: unknown option(s) {unknown}; it takes {sorted(accepted)}")
    required = [p.name for p in params if p.default is p.empty and p.kind != p.VAR_KEYWORD and p.name not in options]
    if required:
        raise ValueError(f"{what}: missing option(s) {required}")


class LRSchedule:
    """``lr(step) = initial_lr × warmup(step) × factor(step)`` for every param group.

    Warm-up is linear over ``warmup_epochs × steps_per_epoch`` steps, reaching
    the full rate at the last warm-up step: ``(step + 1) / warmup_steps``.
    Subclasses give ``factor``. ``step_to(step)`` is called before each
    optimiser step with the 0-based global step.
    """

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, epochs: int, warmup_epochs: float = 0.0) -> None:
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        if warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
        self.optimizer = optimizer
        self.steps_per_epoch = int(steps_per_epoch)
        self.total_steps = int(epochs) * self.steps_per_epoch
        self.warmup_steps = int(round(warmup_epochs * self.steps_per_epoch))
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.last_step = -1

    def factor(self, step: int) -> float:
        return 1.0

    def multiplier(self, step: int) -> float:
        warm = (step + 1) / self.warmup_steps if step < self.warmup_steps else 1.0
        return warm * self.factor(step)

    def lr_at(self, step: int, group: int = 0) -> float:
        return self.optimizer.param_groups[group]["initial_lr"] * self.multiplier(step)

    def step_to(self, step: int) -> None:
        m = self.multiplier(step)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * m
        self.last_step = step

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "initial_lrs": [g["initial_lr"] for g in self.optimizer.param_groups]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for group, lr in zip(self.optimizer.param_groups, state["initial_lrs"]):
            group["initial_lr"] = lr
        self.last_step = int(state["last_step"])
        if self.last_step >= 0:
            self.step_to(self.last_step)


@SCHEDULES.register("step")
class StepSchedule(LRSchedule):
    """Multiply by ``gamma`` at each milestone epoch (fractional epochs allowed; step-exact)."""

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, epochs: int, milestones: Iterable[float] = (),
                 gamma: float = 0.1, warmup_epochs: float = 0.0) -> None:
        super().__init__(optimizer, steps_per_epoch, epochs, warmup_epochs)
        self.milestone_steps = sorted(int(round(m * self.steps_per_epoch)) for m in milestones)
        self.gamma = float(gamma)

    def factor(self, step: int) -> float:
        return self.gamma ** sum(step >= m for m in self.milestone_steps)


@SCHEDULES.register("cosine")
class CosineSchedule(LRSchedule):
    """Half-cosine from the full rate (after warm-up) to ``min_lr_ratio × initial_lr`` at the last step."""

    def __init__(self, optimizer: Optimizer, steps_per_epoch: int, epochs: int, warmup_epochs: float = 0.0,
                 min_lr_ratio: float = 0.0) -> None:
        super().__init__(optimizer, steps_per_epoch, epochs, warmup_epochs)
        self.min_lr_ratio = float(min_lr_ratio)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return 1.0
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


@SCHEDULES.register("constant")
class ConstantSchedule(LRSchedule):
    """The initial rate throughout (after the optional warm-up)."""


def build_schedule(cfg: Mapping[str, Any], optimizer: Optimizer, steps_per_epoch: int, epochs: int) -> LRSchedule:
    options = dict(cfg)
    name = options.pop("name", None)
    if name not in SCHEDULES:
        raise ValueError(f"train.schedule.name: unknown schedule {name!r}; known: {SCHEDULES.names()}")
    _check_options(f"schedule {name!r}", SCHEDULES.get(name).__init__, options, skip=4)
    return SCHEDULES.create(name, optimizer=optimizer, steps_per_epoch=steps_per_epoch, epochs=epochs, **options)


def clip_gradients(parameters: Iterable[Tensor] | nn.Module, max_norm: float | None, norm_type: float = 2.0) -> float | None:
    """Clip the total gradient norm to ``max_norm`` and return the norm before clipping (None: no clipping).

    Under AMP, unscale the gradients first (``scaler.unscale_(optimizer)``).
    """
    if max_norm is None:
        return None
    params = parameters.parameters() if isinstance(parameters, nn.Module) else parameters
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.nn.utils.clip_grad_norm_(grads, max_norm, norm_type=norm_type))
