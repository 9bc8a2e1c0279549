"""Multi-process training helpers: torchrun initialisation, gathers, MoCo's shuffle-BN, sharded sampling.

Every helper degrades to the identity in a single process, so methods call
them unconditionally.
"""

from __future__ import annotations

import os
from typing import Iterator

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import Sampler

__all__ = [
    "is_distributed",
    "get_rank",
    "get_world_size",
    "local_batch_size",
    "get_local_rank",
    "is_main_process",
    "init_distributed",
    "cleanup_distributed",
    "barrier",
    "concat_all_gather",
    "batch_shuffle",
    "batch_unshuffle",
    "all_reduce_mean",
    "broadcast_string",
    "convert_sync_batchnorm",
    "EpochSampler",
]


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def local_batch_size(global_batch: int) -> int:
    """This process's share of ``data.batch_size`` (the global batch); it must divide evenly over the processes."""
    world = get_world_size()
    if int(global_batch) % world:
        raise ValueError(f"data.batch_size={global_batch} (the global batch) must divide evenly over {world} processes")
    return int(global_batch) // world


def get_local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main_process() -> bool:
    return get_rank() == 0


def init_distributed(backend: str | None = None) -> bool:
    """Join the process group described by torchrun's environment; False when not launched by it.

    gloo on CPU, nccl when CUDA is available (each process takes GPU ``LOCAL_RANK``).
    """
    if dist.is_available() and dist.is_initialized():
        return is_distributed()
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1 or "RANK" not in os.environ:
        return False
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(get_local_rank())
    dist.init_process_group(backend=backend or ("nccl" if cuda else "gloo"))
    return True


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


@torch.no_grad()
def concat_all_gather(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from every rank along dim 0 (rank order; no gradient).

    All ranks must pass the same shape (the trainer drops the last incomplete batch).
    """
    if not is_distributed():
        return tensor.detach()
    tensor = tensor.detach().contiguous()
    gathered = [torch.empty_like(tensor) for _ in range(get_world_size())]
    dist.all_gather(gathered, tensor)
    return torch.cat(gathered, dim=0)


@torch.no_grad()
def batch_shuffle(x: Tensor) -> tuple[Tensor, Tensor]:
    """Shuffle the global batch across ranks; returns this rank's share and the unshuffle index.

    MoCo's shuffle-BN: the key encoder's BatchNorm then normalises each rank's
    keys with statistics of other samples, so it cannot leak which key goes
    with which query. In one process BatchNorm sees the whole batch anyway,
    so nothing is permuted (and no random number is drawn).
    """
    if not is_distributed():
        return x, torch.arange(x.shape[0], device=x.device)
    local = x.shape[0]
    gathered = concat_all_gather(x)
    # Rank 0 draws the permutation; everyone uses it, so the shards partition the global batch.
    perm = torch.randperm(gathered.shape[0], device=x.device) if get_rank() == 0 else torch.empty(
        gathered.shape[0], dtype=torch.int64, device=x.device)
    dist.broadcast(perm, src=0)
    unshuffle = torch.argsort(perm)
    mine = perm.view(get_world_size(), local)[get_rank()]
    return gathered[mine], unshuffle


@torch.no_grad()
def batch_unshuffle(x: Tensor, idx_unshuffle: Tensor) -> Tensor:
    """Undo :func:`batch_shuffle` on this rank's output (original samples back in their rank and order)."""
    if not is_distributed():
        return x[idx_unshuffle]
    local = x.shape[0]
    gathered = concat_all_gather(x)
    mine = idx_unshuffle.view(get_world_size(), local)[get_rank()]
    return gathered[mine]


def all_reduce_mean(tensor: Tensor) -> Tensor:
    """Average over ranks (for logging; returns a new tensor)."""
    if not is_distributed():
        return tensor.detach().clone()
    out = tensor.detach().clone().float()
    dist.all_reduce(out)
    return out / get_world_size()


def broadcast_string(text: str | None, src: int = 0) -> str:
    """Rank ``src``'s string on every rank (bytes through a tensor; nothing pickled)."""
    if not is_distributed():
        return text or ""
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    data = torch.tensor(list((text or "").encode()), dtype=torch.uint8, device=device)
    size = torch.tensor([data.numel()], dtype=torch.int64, device=device)
    dist.broadcast(size, src)
    if get_rank() != src:
        data = torch.empty(int(size.item()), dtype=torch.uint8, device=device)
    dist.broadcast(data, src)
    return bytes(data.cpu().tolist()).decode()


def convert_sync_batchnorm(model: nn.Module) -> nn.Module:
    """BatchNorm -> SyncBatchNorm when it can work (distributed and on CUDA); otherwise unchanged.

    torch's SyncBatchNorm runs on GPUs only, so a CPU/gloo run keeps per-rank
    BatchNorm rather than failing at the first forward.
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if not is_distributed() or device.type != "cuda":
        return model
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)


class EpochSampler(Sampler[int]):
    """Deterministic, sharded, resumable sample order.

    Epoch ``e``'s order is a permutation drawn from a generator seeded with
    ``seed + e`` (the same on every rank), padded or truncated to a multiple of
    ``world_size`` and dealt round-robin to the ranks, like
    ``DistributedSampler``. Because the order is a function of ``(seed,
    epoch)`` alone, the sampler has no state to save: :meth:`set_epoch` with
    ``start`` (samples this rank already consumed) resumes mid-epoch.
    """

    def __init__(self, num_samples: int, *, shuffle: bool = True, seed: int = 0, rank: int | None = None,
                 world_size: int | None = None, drop_last: bool = True) -> None:
        self.num_samples = int(num_samples)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.rank = get_rank() if rank is None else rank
        self.world_size = get_world_size() if world_size is None else world_size
        self.drop_last = drop_last
        if drop_last:
            self.per_rank = self.num_samples // self.world_size
        else:
            self.per_rank = -(-self.num_samples // self.world_size)
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch = int(epoch)
        self.start = int(start)

    def epoch_order(self, epoch: int) -> list[int]:
        """This rank's full sample order for ``epoch``."""
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + epoch)
            order = torch.randperm(self.num_samples, generator=gen).tolist()
        else:
            order = list(range(self.num_samples))
        total = self.per_rank * self.world_size
        while len(order) < total:  # pad by repeating, like DistributedSampler
            order += order[: total - len(order)]
        return order[:total][self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_order(self.epoch)[self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start
