"""Multi-process training helpers: torchrun initialisation, gathers, MoCo's shuffle-BN, SyncBN, sharded sampling.

Every helper degrades to the identity in a single process, so methods call
them unconditionally. Two gathers: :func:`concat_all_gather` (no gradient:
queues, shuffle-BN) and :func:`all_gather_with_grad` (losses over every
rank's batch, e.g. NT-Xent, whose gradient must reach the rank that computed
each sample).
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
    "all_gather_with_grad",
    "batch_shuffle",
    "batch_unshuffle",
    "all_reduce_mean",
    "broadcast_string",
    "convert_sync_batchnorm",
    "GlobalBatchNorm",
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


class _GatherWithGrad(torch.autograd.Function):
    """all_gather forward; backward: every rank's gradient of the gathered tensor, summed, this rank's slice."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:  # type: ignore[override]
        ctx.rank, ctx.local = get_rank(), tensor.shape[0]
        gathered = [torch.empty_like(tensor) for _ in range(get_world_size())]
        dist.all_gather(gathered, tensor.contiguous())
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        # Rank r's loss depends on every rank's rows; each row's gradient is the sum over all ranks' losses.
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.local:(ctx.rank + 1) * ctx.local]


def all_gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` from every rank along dim 0 (rank order), **keeping the gradient**.

    Each rank computes its loss over the gathered batch; DDP then averages the
    parameter gradients, so the result equals one process computing the mean
    loss over the global batch. All ranks must pass the same shape.
    """
    if not is_distributed():
        return tensor
    return _GatherWithGrad.apply(tensor)


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


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics cover every rank's batch, on any backend (gloo included).

    torch's ``SyncBatchNorm`` runs on GPUs only; this one all-reduces the
    per-channel sums (first the mean, then the squared deviations from it)
    with autograd-aware collectives, so outputs, gradients and running
    statistics equal a single process's BatchNorm over the global batch. Off
    DDP or in eval mode it is a plain BatchNorm. Input ``(N, C, *)``.
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {x.dim()}-D")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        self._check_input_dim(x)
        dtype, x = x.dtype, x.float()  # statistics in float32, as BatchNorm under autocast
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() // x.shape[1]], dtype=x.dtype, device=x.device)
        total = all_reduce(torch.cat([x.sum(dims), count]))
        n = total[-1]
        mean = total[:-1] / n
        var = all_reduce((x - mean.view(shape)).pow(2).sum(dims)) / n
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1).clamp_min(1), alpha=m)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(dtype)


def convert_sync_batchnorm(model: nn.Module) -> nn.Module:
    """Every BatchNorm normalises over the global batch under DDP; unchanged in one process.

    On CUDA, torch's ``SyncBatchNorm``; elsewhere (CPU/gloo) :class:`GlobalBatchNorm`,
    which keeps the same parameters and buffers (state-dict compatible).
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if not is_distributed():
        return model
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return _to_global_batchnorm(model)


def _to_global_batchnorm(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        out = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        out.load_state_dict(module.state_dict())
        out.train(module.training)
        if module.affine:  # the same Parameter objects: optimisers and EMA pairs keep pointing at them
            out.weight, out.bias = module.weight, module.bias
        return out
    for name, child in module.named_children():
        module.add_module(name, _to_global_batchnorm(child))
    return module


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
