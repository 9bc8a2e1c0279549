"""The generic training loop shared by pretraining and the linear / fine-tune protocols.

``Trainer(model, train_cfg, run_dir, dataset_or_loader_factory, batch_size=...).fit()``
runs ``train_cfg.epochs`` epochs of ``loss = model(batch, epoch)["loss"]``,
backward, optional clipping, optimiser step and ``model.after_optimizer_step()``,
with the learning rate set per step by the schedule. Around that it does AMP,
DDP wrapping, checkpointing, logging and callbacks.

Exact resume. A checkpoint holds the model's parameters and buffers
(momentum encoders, queues), the optimiser, the schedule position, the AMP
scaler, every RNG state of every rank, and the position in the run
(epoch, global step, batches done in the epoch). The sample order of an epoch
is a function of ``(seed, epoch)`` (:class:`~skelssl.engine.distributed.EpochSampler`),
so resuming mid-epoch skips the batches already seen and continues with the
same ones an uninterrupted run would have drawn. RNG states are restored at the
point in the loop where they were captured (before the epoch-start hooks for an
epoch-end checkpoint, after them for a mid-epoch one), so with
``train.deterministic`` the resumed run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import itertools
import math
import signal
import threading
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import torch
import torch.distributed as dist
from omegaconf import DictConfig
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from skelssl.engine.callbacks import Callback
from skelssl.engine.checkpoint import (CheckpointManager, decode_state, encode_state, environment_versions,
                                       git_commit, load_checkpoint, resolve_checkpoint)
from skelssl.engine.config import config_to_dict, train_config
from skelssl.engine.distributed import (EpochSampler, all_reduce_mean, convert_sync_batchnorm, get_local_rank,
                                        get_rank, get_world_size, is_distributed)
from skelssl.engine.logging import MetricLogger
from skelssl.engine.optim import build_optimizer, build_schedule, clip_gradients
from skelssl.engine.seed import capture_rng_state, deterministic_mode, module_generators, restore_rng_state, seed_everything

__all__ = ["Trainer", "LoaderFactory", "TrainingInterrupted", "default_device"]

LoaderFactory = Callable[[int], Iterable[Any]]


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped training; ``checkpoint`` (if any) holds the state to resume from.

    A ``KeyboardInterrupt``, so nothing that catches ``Exception`` swallows it;
    the command line turns it into one line with the resume command.
    """

    def __init__(self, run_dir: str | Path, checkpoint: str | Path | None, epoch: int, epochs: int, step: int) -> None:
        super().__init__(f"interrupted at epoch {epoch + 1}/{epochs}, step {step}")
        self.run_dir, self.checkpoint = Path(run_dir), (Path(checkpoint) if checkpoint else None)
        self.epoch, self.epochs, self.step = epoch, epochs, step


def default_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", get_local_rank() if is_distributed() else torch.cuda.current_device())
    return torch.device("cpu")


class Trainer:
    """Train ``model`` (``forward(batch, epoch) -> {"loss": ..., other scalars}``) per ``train_cfg``.

    ``data`` is a map-style dataset (the trainer builds a seeded, sharded,
    resumable loader over it with ``batch_size``) or a factory
    ``epoch -> iterable of batches``; a factory's batches for an epoch must be
    the same every time it is called, and mid-epoch resume skips by iterating.
    ``config`` is the full run config stored in checkpoint metadata.

    Hooks the model may define: ``on_train_start(total_steps)`` (once per
    ``fit``, with the run's number of optimiser steps), ``on_train_epoch_start(epoch)`` (called again
    when a run resumes mid-epoch, so it must only set state that is a function
    of the epoch, e.g. a stage flag) and ``after_optimizer_step()``. A
    ``find_unused_parameters`` attribute on the model is used for DDP unless
    ``train.find_unused_parameters`` says otherwise.
    """

    def __init__(
        self,
        model: nn.Module,
        train_cfg: DictConfig | Mapping[str, Any] | None,
        run_dir: str | Path,
        data: Dataset | LoaderFactory,
        batch_size: int | None = None,
        *,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        shuffle: bool = True,
        steps_per_epoch: int | None = None,
        callbacks: Sequence[Callback] = (),
        config: DictConfig | Mapping[str, Any] | None = None,
        device: str | torch.device | None = None,
        generators: Mapping[str, torch.Generator] | None = None,
        quiet: bool = False,
        epoch_lines: bool = True,
    ) -> None:
        self.cfg = train_config(train_cfg)
        self.run_dir = Path(run_dir)
        self.rank, self.world_size = get_rank(), get_world_size()
        self.is_main = self.rank == 0
        self.device = torch.device(device) if device is not None else default_device()
        self.module = model.to(self.device)
        if self.cfg.sync_bn:
            self.module = convert_sync_batchnorm(self.module)
        self.model = self._wrap(self.module)
        self.epochs = int(self.cfg.epochs)
        self.config = config
        self.callbacks = list(callbacks)
        self.quiet = quiet
        self.epoch_lines = epoch_lines
        self._extra_generators = dict(generators or {})
        self._setup_data(data, batch_size, num_workers, collate_fn, shuffle, steps_per_epoch)
        self.optimizer = build_optimizer(self.module, self.cfg.optimizer)
        self.schedule = build_schedule(self.cfg.schedule, self.optimizer, self.steps_per_epoch, self.epochs)
        self._setup_amp()
        ck = self.cfg.checkpoint
        self.checkpoints = CheckpointManager(self.run_dir / "checkpoints", keep_last=ck.keep_last)
        self.monitor, self.monitor_mode = ck.monitor, ck.mode
        self.best_value: float | None = None
        self.epoch = 0  # epochs completed
        self.global_step = 0  # optimiser steps completed
        self.batch_in_epoch = 0  # batches of the current epoch completed
        self._pending_rng: dict[str, Tensor] | None = None
        # Running sums of this epoch's step metrics; checkpointed so a resumed epoch's averages are exact too.
        self._sums: dict[str, Tensor] = {}
        self._count = 0
        self._last_save = time.monotonic()
        self._stop_requested = False
        self.logger: MetricLogger | None = None

    # ----------------------------------------------------------------- setup
    def _wrap(self, module: nn.Module) -> nn.Module:
        if not is_distributed() or not any(p.requires_grad for p in module.parameters()):
            return module
        find_unused = self.cfg.find_unused_parameters
        if find_unused is None:
            find_unused = bool(getattr(module, "find_unused_parameters", False))
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)

    def _setup_data(self, data: Any, batch_size: int | None, num_workers: int, collate_fn: Any, shuffle: bool,
                    steps_per_epoch: int | None) -> None:
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        if isinstance(data, Dataset) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
            if not batch_size:
                raise ValueError("Trainer over a dataset needs batch_size")
            self.dataset, self.loader_factory = data, None
            self.sampler = EpochSampler(len(data), shuffle=shuffle, seed=int(self.cfg.seed),
                                        drop_last=bool(self.cfg.drop_last))
            per_rank = self.sampler.per_rank
            spe = per_rank // batch_size if self.cfg.drop_last else -(-per_rank // batch_size)
            if spe < 1:
                raise ValueError(f"{len(data)} samples over {self.world_size} process(es) do not fill one batch of "
                                 f"{batch_size}; lower data.batch_size or set train.drop_last=false")
            self.steps_per_epoch = spe
        elif callable(data):
            self.dataset, self.loader_factory, self.sampler = None, data, None
            if steps_per_epoch is None:
                steps_per_epoch = len(data(0))  # type: ignore[arg-type]
            self.steps_per_epoch = int(steps_per_epoch)
        else:
            raise TypeError(f"Trainer data must be a dataset or an epoch -> loader factory, got {type(data).__name__}")

    def _setup_amp(self) -> None:
        amp = self.cfg.amp
        self.amp = self.device.type == "cuda" if amp == "auto" else bool(amp)
        # fp16 with loss scaling on GPUs; bf16 (no scaling needed) where fp16 autocast is not a thing.
        self.amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda") if self.amp and self.device.type == "cuda" else None

    # ------------------------------------------------------------------ data
    def _batches(self, epoch: int, start: int) -> Iterator[Any]:
        if self.loader_factory is not None:
            return itertools.islice(iter(self.loader_factory(epoch)), start, None)
        assert self.sampler is not None
        self.sampler.set_epoch(epoch, start * int(self.batch_size))  # type: ignore[arg-type]
        if hasattr(self.dataset, "set_epoch"):
            # Datasets that draw random clips per epoch (SkeletonDataset); set before workers copy it.
            self.dataset.set_epoch(epoch)
        loader = DataLoader(
            self.dataset, batch_size=self.batch_size, sampler=self.sampler, num_workers=self.num_workers,
            collate_fn=self.collate_fn, drop_last=bool(self.cfg.drop_last), pin_memory=self.device.type == "cuda",
            # Its own generator: creating the iterator must not draw from torch's global RNG.
            generator=torch.Generator().manual_seed(int(self.cfg.seed) * 100_003 + epoch),
        )
        return iter(loader)

    # ------------------------------------------------------------------ loop
    def fit(self, resume: bool | str | Path = False) -> dict[str, Any]:
        """Train to ``train.epochs`` (or ``train.max_steps``); returns a summary.

        ``resume``: False (fresh start), True (``<run_dir>/checkpoints/last``,
        which must exist), ``"auto"`` (that checkpoint if present) or a
        checkpoint path / run dir.
        """
        with deterministic_mode(bool(self.cfg.deterministic)):
            self._generators = {**module_generators(self.module), **self._extra_generators}
            resumed = self._start(resume)
            if hasattr(self.module, "on_train_start"):
                total = self.epochs * self.steps_per_epoch
                self.module.on_train_start(min(total, self.cfg.max_steps) if self.cfg.max_steps else total)
            logger = MetricLogger(self.run_dir, enabled=self.is_main, console=not self.quiet and self.cfg.progress,
                                  tensorboard=bool(self.cfg.tensorboard), resume_step=self.global_step if resumed else None,
                                  epoch_lines=self.epoch_lines)
            self.logger = logger
            if self.epoch_lines and self.epoch < self.epochs:
                # Say up front how long this is going to be (the configs' defaults are the papers' 100s of epochs).
                at = f", resuming at epoch {self.epoch + 1} step {self.global_step}" if resumed else ""
                limit = f", stopping at step {self.cfg.max_steps}" if self.cfg.max_steps else ""
                logger.print(f"training {self.epochs} epoch(s) of {self.steps_per_epoch} steps{at}{limit}; "
                             f"checkpoints in {self.checkpoints.dir}")
            started = time.perf_counter()
            epoch_metrics: dict[str, float] = {}
            stopped = False
            restore = self._catch_interrupt()
            try:
                for cb in self.callbacks:
                    cb.on_fit_start(self)
                while self.epoch < self.epochs and not stopped:
                    epoch_metrics, stopped = self._run_epoch(self.epoch)
                    if self._stop_requested and self.epoch < self.epochs and not stopped:
                        self._stop(saved=True)
                result = {"epoch": self.epoch, "step": self.global_step, "metrics": epoch_metrics,
                          "stopped_at_max_steps": stopped, "checkpoint": str(self.checkpoints.last),
                          "best": self.best_value, "seconds": round(time.perf_counter() - started, 3)}
                for cb in self.callbacks:
                    cb.on_fit_end(self, result)
            finally:
                restore()
                logger.close()
        return result

    def _catch_interrupt(self) -> Callable[[], None]:
        """Ctrl-C during ``fit`` finishes the current step, checkpoints and raises :class:`TrainingInterrupted`.

        A second Ctrl-C interrupts at once. Only in the main thread of a
        single process: under DDP the ranks would see the signal at different
        steps and the checkpoint is a collective, so there Ctrl-C stops at once
        and the time-based checkpoints (``train.checkpoint.every_minutes``) are
        what the run resumes from.
        """
        if is_distributed() or threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def request_stop(signum: int, frame: Any) -> None:
            if self._stop_requested:
                raise KeyboardInterrupt
            self._stop_requested = True
            if self.logger is not None:
                self.logger.print("stopping after this step and saving a checkpoint (Ctrl-C again to stop at once)")

        try:
            signal.signal(signal.SIGINT, request_stop)
        except ValueError:  # not the main interpreter
            return lambda: None
        return lambda: signal.signal(signal.SIGINT, previous)

    def _stop(self, saved: bool = False) -> None:
        path = self.checkpoints.last if saved else self.save()
        raise TrainingInterrupted(self.run_dir, path, self.epoch, self.epochs, self.global_step)

    def _time_checkpoint_due(self) -> bool:
        minutes = float(self.cfg.checkpoint.every_minutes or 0)
        if not minutes:
            return False
        due = time.monotonic() - self._last_save >= minutes * 60
        if is_distributed():
            # Saving is a collective: rank 0's clock decides, on logging steps (already a collective point).
            return self.global_step % self.cfg.log_every == 0 and self._rank0_decides(due)
        return due

    def _start(self, resume: bool | str | Path) -> bool:
        if isinstance(resume, str) and resume == "auto":
            resume = self.checkpoints.last.exists()
        if resume is None or resume is False:
            seed_everything(int(self.cfg.seed) + self.rank)
            return False
        path = self.checkpoints.last if resume is True else resolve_checkpoint(resume)
        self.load(path)
        return True

    def _run_epoch(self, epoch: int) -> tuple[dict[str, float], bool]:
        start = self.batch_in_epoch
        if self._pending_rng is not None and start == 0:
            self._restore_rng()
        if hasattr(self.module, "on_train_epoch_start"):
            self.module.on_train_epoch_start(epoch)
        for cb in self.callbacks:
            cb.on_epoch_start(self, epoch)
        if self._pending_rng is not None:
            self._restore_rng()
        self.model.train()
        self.logger.start_epoch(epoch, self.epochs, self.steps_per_epoch, start)
        if start == 0:
            self._sums, self._count = {}, 0
        sums = self._sums
        max_steps = self.cfg.max_steps
        for batch in self._batches(epoch, start):
            metrics = self._train_step(batch, epoch)
            self.global_step += 1
            self.batch_in_epoch += 1
            self._count += 1
            for k, v in metrics.items():
                sums[k] = sums[k] + v if k in sums else v.clone()
            shown = None
            if self.global_step % self.cfg.log_every == 0:
                shown = self._reduce(metrics)
                self._check_finite(shown, epoch)
                self.logger.log("step", epoch, self.global_step, shown)
            self.logger.advance(shown)
            for cb in self.callbacks:
                # Floats on logging steps; otherwise 0-dim tensors, so no step waits on the GPU for them.
                cb.on_step_end(self, self.global_step, shown if shown is not None else metrics)
            mid_epoch = self.batch_in_epoch < self.steps_per_epoch
            every = self.cfg.checkpoint.every_steps
            if max_steps and self.global_step >= max_steps:
                if mid_epoch:
                    self.save()
                    return {}, True
                break
            if self._stop_requested and mid_epoch:
                self._stop()
            if mid_epoch and ((every and self.global_step % every == 0) or self._time_checkpoint_due()):
                self.save()
            if not mid_epoch:
                break
        count = self._count
        epoch_metrics = self._reduce({k: v / count for k, v in sums.items()}) if count else {}
        self._sums, self._count = {}, 0
        if epoch_metrics:
            self._check_finite(epoch_metrics, epoch)
        for cb in self.callbacks:
            extra = cb.on_epoch_end(self, epoch, epoch_metrics)
            if extra:
                epoch_metrics.update(extra)
        self.epoch, self.batch_in_epoch = epoch + 1, 0
        self.logger.log("epoch", epoch, self.global_step, epoch_metrics)
        self.logger.end_epoch(epoch, epoch_metrics, self.epochs)
        best = self._rank0_decides(self._improved(epoch_metrics))
        every_epochs = self.cfg.checkpoint.every_epochs
        last_epoch = self.epoch == self.epochs or bool(max_steps and self.global_step >= max_steps)
        if best or last_epoch or self._stop_requested or (every_epochs and self.epoch % every_epochs == 0):
            self.save(epoch_end=True, best=best)
        return epoch_metrics, bool(max_steps and self.global_step >= max_steps)

    def _train_step(self, batch: Any, epoch: int) -> dict[str, Tensor]:
        batch = _to_device(batch, self.device)
        self.schedule.step_to(self.global_step)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
            out = self.model(batch, epoch)
        if not isinstance(out, Mapping) or "loss" not in out:
            raise TypeError(f"{type(self.module).__name__}.forward must return a dict with a 'loss' entry")
        loss = out["loss"]
        if not isinstance(loss, Tensor) or not loss.requires_grad:
            raise ValueError(f"{type(self.module).__name__}: 'loss' must be a tensor that requires grad")
        self.optimizer.zero_grad(set_to_none=True)
        grad_norm = None
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.cfg.grad_clip:
                self.scaler.unscale_(self.optimizer)
                grad_norm = clip_gradients(self.module, self.cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            grad_norm = clip_gradients(self.module, self.cfg.grad_clip)
            self.optimizer.step()
        if hasattr(self.module, "after_optimizer_step"):
            self.module.after_optimizer_step()
        metrics = {k: v.detach().float().reshape(()) for k, v in out.items() if _is_scalar(v)}
        metrics.update({k: torch.tensor(float(v), device=self.device) for k, v in out.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
        metrics["lr"] = torch.tensor(float(self.optimizer.param_groups[0]["lr"]), device=self.device)
        if grad_norm is not None:
            metrics["grad_norm"] = torch.tensor(grad_norm, device=self.device)
        return metrics

    # --------------------------------------------------------------- metrics
    def _reduce(self, metrics: Mapping[str, Tensor]) -> dict[str, float]:
        """Mean over ranks in one collective (every rank reports the same keys)."""
        if not metrics:
            return {}
        keys = sorted(metrics)
        stacked = torch.stack([metrics[k].to(self.device, torch.float32) for k in keys])
        values = all_reduce_mean(stacked).tolist()
        return dict(zip(keys, values))

    def _check_finite(self, metrics: Mapping[str, float], epoch: int) -> None:
        loss = metrics.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise FloatingPointError(f"loss is {loss} at epoch {epoch}, step {self.global_step}; "
                                     f"lower train.optimizer.lr or set train.grad_clip")

    def _improved(self, metrics: Mapping[str, float]) -> bool:
        if not self.monitor or self.monitor not in metrics:
            return False
        value = float(metrics[self.monitor])
        better = self.best_value is None or (value > self.best_value if self.monitor_mode == "max" else value < self.best_value)
        if better:
            self.best_value = value
        return better

    def _rank0_decides(self, flag: bool) -> bool:
        # Saving is a collective, and monitored metrics (the KNN monitor's) may exist on rank 0 only.
        if not is_distributed():
            return flag
        comm = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        t = torch.tensor([int(flag)], device=comm)
        dist.broadcast(t, src=0)
        return bool(t.item())

    # ----------------------------------------------------------- checkpoints
    def state(self) -> dict[str, Any]:
        """Everything but the RNG, as nested state dicts (tensors included)."""
        return {
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }

    def save(self, *, epoch_end: bool = False, best: bool = False) -> Path | None:
        """Checkpoint now (a collective in DDP: every rank calls it, rank 0 writes)."""
        per_rank = self._gather_per_rank()
        self._last_save = time.monotonic()
        if not self.is_main:
            return None
        skeleton, tensors = encode_state({**self.state(), "per_rank": per_rank, "epoch_count": self._count})
        meta = {
            "epoch": self.epoch, "step": self.global_step, "batch_in_epoch": self.batch_in_epoch,
            "steps_per_epoch": self.steps_per_epoch, "epochs": self.epochs, "world_size": self.world_size,
            "batch_size": self.batch_size, "seed": int(self.cfg.seed),
            "best": {"monitor": self.monitor, "mode": self.monitor_mode, "value": self.best_value},
            "config": config_to_dict(self.config) if self.config is not None else {"train": config_to_dict(self.cfg)},
            "git_commit": git_commit(), "versions": environment_versions(),
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "state": skeleton,
        }
        return self.checkpoints.save(tensors, meta, epoch=self.epoch if epoch_end else None, best=best)

    def load(self, path: str | Path) -> dict[str, Any]:
        """Restore the full training state from a checkpoint (RNG applied when training continues)."""
        tensors, meta = load_checkpoint(path)
        state = decode_state(meta["state"], tensors)
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.global_step = int(meta["epoch"]), int(meta["step"])
        self.batch_in_epoch = int(meta["batch_in_epoch"])
        if meta["steps_per_epoch"] != self.steps_per_epoch:
            message = (f"{path}: saved with {meta['steps_per_epoch']} steps per epoch, now {self.steps_per_epoch} "
                       f"(batch size or world size changed)")
            if self.batch_in_epoch:
                raise ValueError(message + "; cannot resume mid-epoch")
            warnings.warn(message + "; the schedule is followed by global step", stacklevel=2)
        best = meta.get("best") or {}
        if best.get("monitor") == self.monitor:
            self.best_value = best.get("value")
        per_rank = state["per_rank"]
        mine = per_rank.get(f"rank{self.rank}")
        if mine is None:
            warnings.warn(f"{path}: no state for rank {self.rank} (saved by {len(per_rank)} process(es)); "
                          f"reseeding, the run will not match an uninterrupted one", stacklevel=2)
            seed_everything(int(self.cfg.seed) + self.rank + self.global_step)
            mine = per_rank["rank0"]
            self._pending_rng = None
        else:
            self._pending_rng = {k: v for k, v in mine.items() if not k.startswith("sum.")}
        self._sums = {k[len("sum."):]: v.to(self.device) for k, v in mine.items() if k.startswith("sum.")}
        self._count = int(state["epoch_count"])
        return meta

    def _gather_per_rank(self) -> dict[str, dict[str, Tensor]]:
        """Every rank's RNG states and metric sums, gathered to all ranks (same keys and shapes everywhere)."""
        local = capture_rng_state(self._generators)
        local.update({f"sum.{k}": v for k, v in self._sums.items()})
        if not is_distributed():
            return {"rank0": local}
        comm = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        out: dict[str, dict[str, Tensor]] = {f"rank{r}": {} for r in range(self.world_size)}
        for key in sorted(local):
            t = local[key]
            wire = t.to(comm, torch.int64 if t.dtype == torch.uint8 else t.dtype)  # gloo/nccl-safe dtypes
            parts = [torch.empty_like(wire) for _ in range(self.world_size)]
            dist.all_gather(parts, wire)
            for r, part in enumerate(parts):
                out[f"rank{r}"][key] = part.cpu().to(t.dtype)
        return out

    def _restore_rng(self) -> None:
        assert self._pending_rng is not None
        restore_rng_state(self._pending_rng, self._generators)
        self._pending_rng = None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, Tensor) and value.numel() == 1 and not value.dtype.is_complex


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [_to_device(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch
