"""torch.distributed under torchrun: one process per rank, rank 0 logs and checkpoints.

`torchrun --nproc-per-node N -m metta.train ...` sets RANK / WORLD_SIZE / LOCAL_RANK; without
them the run is a world of one and nothing here touches torch.distributed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched_world() -> World:
    """The world torchrun describes in the environment (a world of one without torchrun)."""
    return World(
        rank=int(os.environ.get("RANK", 0)),
        size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def resolve_device(name: str, world: World) -> torch.device:
    """`auto`: this rank's GPU when there is one, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", world.local_rank)
    return device


def init(world: World, device: torch.device) -> None:
    if world.distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def shutdown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def broadcast(obj: Any, world: World) -> Any:
    """Rank 0's `obj` on every rank (e.g. the checkpoint it loaded)."""
    if not world.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean(value: torch.Tensor, world: World) -> torch.Tensor:
    """Mean across ranks (a scalar every rank then decides on identically)."""
    if not world.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / world.size


def parameters_in_sync(module: torch.nn.Module, world: World) -> bool:
    """Whether every rank holds the same parameters (DDP's promise, checked at the end of a run)."""
    if not world.distributed:
        return True
    local = torch.stack([p.detach().double().sum() for p in module.parameters()]).cpu()
    gathered = [torch.zeros_like(local) for _ in range(world.size)]
    dist.all_gather_object(gathered, local)
    return all(torch.equal(local, other) for other in gathered)
