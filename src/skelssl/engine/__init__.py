"""The training engine: config, optimisers and schedules, seeding, checkpoints, DDP helpers, the Trainer.

See ``docs/engine-contract.md`` for the contract methods and protocols code against.
"""

from skelssl.engine.callbacks import Callback, KNNMonitor, LambdaCallback
from skelssl.engine.checkpoint import CheckpointManager, load_checkpoint, resolve_checkpoint, save_checkpoint
from skelssl.engine.config import ConfigError, load_config, save_config, train_config
from skelssl.engine.optim import (LARS, OPTIMIZERS, SCHEDULES, LRSchedule, build_optimizer, build_schedule,
                                  clip_gradients)
from skelssl.engine.seed import capture_rng_state, deterministic_mode, restore_rng_state, seed_everything, set_deterministic
from skelssl.engine.trainer import Trainer

__all__ = [
    "Callback",
    "KNNMonitor",
    "LambdaCallback",
    "CheckpointManager",
    "load_checkpoint",
    "resolve_checkpoint",
    "save_checkpoint",
    "ConfigError",
    "load_config",
    "save_config",
    "train_config",
    "LARS",
    "OPTIMIZERS",
    "SCHEDULES",
    "LRSchedule",
    "build_optimizer",
    "build_schedule",
    "clip_gradients",
    "capture_rng_state",
    "restore_rng_state",
    "seed_everything",
    "set_deterministic",
    "deterministic_mode",
    "Trainer",
]
