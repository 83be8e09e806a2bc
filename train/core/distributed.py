"""Data-parallel training across processes: run ``styleforge train …`` under ``torchrun`` and the Trainer base
trains on every rank (docs/distributed.md).

The recipe, exact against one process with the same global batch (tests/test_distributed.py):

* every rank builds the same modules (same seed; rank 0's weights are broadcast anyway);
* ``--batch`` is the *global* batch; each rank reads its own strided shard ``rank::world`` of the step's batch,
  a pure function of (seed, step) as in one process, and draws per-sample randomness (latents, interpolation
  weights) for the global batch and keeps its shard — so the ranks together see exactly the single-process batch;
* gradients are averaged across ranks before every optimiser step: the semantics of DistributedDataParallel,
  done as an optimiser step pre-hook with one flat all-reduce (as StyleGAN2-ADA does), because GAN steps —
  several forwards per backward, two optimisers, the generator's backward through the critic, gradient penalties
  with ``create_graph`` — are outside what the DDP wrapper supports;
* batch norm uses the global batch's statistics: SyncBatchNorm on CUDA, :class:`GlobalBatchNorm2d` on the CPU
  (SyncBatchNorm refuses CPU tensors);
* logged losses are averaged across ranks; only rank 0 writes checkpoints, previews and run.json.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ...runtime.errors import StyleForgeError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (``size`` 1: not distributed)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def own(self, n: int) -> range:
        """Indices of a global batch of `n` that this rank holds (strided: keeps PGAN's minibatch-stddev groups)."""
        return range(self.rank, n, self.size)

    def shard(self, x):
        """This rank's part (``x[rank::size]``) of a tensor or array holding a whole global batch."""
        return x if self.size == 1 else x[self.rank::self.size]

    def check_batch(self, n: int, flag: str = "--batch") -> None:
        if n % self.size:
            raise StyleForgeError(f"{flag} {n} (the global batch) must be divisible by the {self.size} processes")


SINGLE = World()


def setup(device: str) -> tuple[World, str]:
    """(World, this rank's device). Under torchrun (WORLD_SIZE > 1) joins the process group: gloo on the CPU, nccl
    on CUDA with one GPU per process (``cuda`` → ``cuda:LOCAL_RANK``)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return SINGLE, device
    import torch
    import torch.distributed as dist

    cuda = device.startswith("cuda")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        if ":" in device:
            raise StyleForgeError(f"--device {device}: under torchrun give --device cuda; each process takes cuda:LOCAL_RANK")
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), local, dist.get_backend()), device


def allreduce_grads(params, world: World) -> None:
    """Average the gradients of `params` across ranks (one flat all-reduce; params without a gradient are skipped,
    the same ones on every rank since every rank runs the same code)."""
    if world.size == 1:
        return
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def average_gradients_before_step(optimizer, world: World) -> None:
    """Make `optimizer` average its parameters' gradients across ranks before each step."""
    if world.size == 1:
        return

    def hook(opt, args, kwargs):
        allreduce_grads([p for group in opt.param_groups for p in group["params"]], world)

    optimizer.register_step_pre_hook(hook)


def mean_over_ranks(values: dict[str, float], world: World) -> dict[str, float]:
    """Scalars (the step's losses) averaged across ranks: with equal shards, the global batch's mean."""
    if world.size == 1:
        return values
    import torch
    import torch.distributed as dist

    t = torch.tensor(list(values.values()), dtype=torch.float64)
    dist.all_reduce(t)
    return dict(zip(values, (t / world.size).tolist()))


def broadcast_state(modules: dict, world: World) -> None:
    """Copy rank 0's parameters and buffers to every rank (as DistributedDataParallel does at construction)."""
    if world.size == 1:
        return
    import torch.distributed as dist

    for module in modules.values():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, 0)


def barrier(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        dist.barrier()


def global_batch_norm(module, world: World, device):
    """Batch norm over the global batch: SyncBatchNorm on CUDA, GlobalBatchNorm2d elsewhere. Call before the
    optimisers are built (the layers are replaced)."""
    if world.size == 1:
        return module
    import torch

    if torch.device(device).type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _convert_bn(module, global_bn_class(), device)


def _convert_bn(module, cls, device):
    import torch.nn as nn

    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            g = cls(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            g.load_state_dict(child.state_dict())
            setattr(module, name, g.to(device))
        else:
            _convert_bn(child, cls, device)
    return module


_GBN = None


def global_bn_class():
    """The GlobalBatchNorm2d class (built on first use, so importing this module needs no torch)."""
    global _GBN
    if _GBN is None:
        _GBN = _global_batch_norm_class()
    return _GBN


def _global_batch_norm_class():
    import torch
    import torch.nn as nn

    import torch.distributed as dist

    class AllReduceSum(torch.autograd.Function):
        """Sum over ranks, differentiable: the gradient of every rank's copy is the sum of the ranks' gradients."""

        @staticmethod
        def forward(ctx, x):
            x = x.clone()
            dist.all_reduce(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            grad = grad.clone()
            dist.all_reduce(grad)
            return grad

    all_reduce = AllReduceSum.apply

    class GlobalBatchNorm2d(nn.BatchNorm2d):
        """BatchNorm2d whose training statistics cover the global batch across ranks (gloo and CPU too).

        Sum and centred sum of squares are all-reduced with a differentiable all-reduce, so gradients are those of one batch norm over the global
        batch; running statistics get the global (unbiased) variance. Equal shards assumed. In eval mode, or in one
        process, it is a plain BatchNorm2d (same state_dict: checkpoints and exports do not change)."""

        def forward(self, x):
            if not self.training or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
                return super().forward(x)
            n = x.shape[0] * x.shape[2] * x.shape[3] * dist.get_world_size()
            mean = all_reduce(x.sum((0, 2, 3))) / n
            var = all_reduce(((x - mean[None, :, None, None]) ** 2).sum((0, 2, 3))) / n
            if self.track_running_stats:
                with torch.no_grad():
                    self.num_batches_tracked += 1
                    m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                    self.running_mean.mul_(1 - m).add_(m * mean)
                    self.running_var.mul_(1 - m).add_(m * var * n / max(1, n - 1))
            y = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps)
            if self.affine:
                y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
            return y

    return GlobalBatchNorm2d
