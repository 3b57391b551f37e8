"""Rollout backends behind one protocol: `send(actions)`, `recv()`, `step = send + recv`.

The serial backend is :class:`~metta.mettagrid.MettaGridEnv` itself: it already steps a whole
batch of environments in one compiled call.  :class:`MultiprocessVecEnv` splits the batch
over worker processes, each stepping its slice of environments straight into shared-memory
buffers; messages carry only commands and the (rare) episode infos.  Workers block on their
pipe instead of spinning, so on a 2-core machine they never starve the learner.

Both backends produce identical trajectories for the same seed and actions: each worker's
environments keep their global ids, which key their random streams.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from multiprocessing import shared_memory
from typing import Optional, Sequence

import gymnasium
import numpy as np

from metta.mettagrid import EnvConfig, MettaGridEnv
from metta.mettagrid.env import buffer_specs
from metta.mettagrid.layout import NUM_ACTIONS, observation_size


def default_num_workers(cpu_count: Optional[int] = None, gpus: int = 0) -> int:
    """Half the cores (the other half runs the learner), split across GPUs; at least 1."""
    cpus = os.cpu_count() if cpu_count is None else cpu_count
    return max(1, (cpus // 2) // max(gpus, 1))


def _attach(names: dict[str, str], specs) -> tuple[list[shared_memory.SharedMemory], dict[str, np.ndarray]]:
    blocks, arrays = [], {}
    for key, name in names.items():
        shape, dtype = specs[key]
        block = shared_memory.SharedMemory(name=name)
        blocks.append(block)
        arrays[key] = np.ndarray(shape, dtype=dtype, buffer=block.buf)
    return blocks, arrays


def _worker(conn, cfgs, first_env, seed, names, specs, agent_slice) -> None:
    blocks, arrays = _attach(names, specs)
    try:
        views = {key: array[agent_slice] for key, array in arrays.items()}
        env = MettaGridEnv(cfgs, num_envs=len(cfgs), seed=seed, buf=views, first_env_id=first_env)
        while True:
            command, arg = conn.recv()
            if command == "step":
                conn.send(("ok", env.step(env.actions)[4]))
            elif command == "reset":
                env.reset(arg)
                conn.send(("ok", []))
            elif command == "set_env_config":
                env.set_env_config(*arg)
            elif command == "close":
                break
    except Exception:  # the parent re-raises it with this traceback
        conn.send(("error", traceback.format_exc()))
    finally:
        for block in blocks:
            block.close()


class MultiprocessVecEnv:
    """`num_envs` environments split evenly over `num_workers` processes, in shared memory."""

    def __init__(
        self,
        cfg: EnvConfig | Sequence[EnvConfig],
        num_envs: int,
        num_workers: int,
        seed: int = 0,
        first_env_id: int = 0,
    ) -> None:
        """`first_env_id`: as for MettaGridEnv, the global id of env 0 (one rank's slice of the run)."""
        cfgs = list(cfg) if isinstance(cfg, (list, tuple)) else [cfg] * num_envs
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        if num_workers > num_envs:
            raise ValueError(f"num_workers={num_workers} is more than num_envs={num_envs}: a worker would idle")
        if num_envs % num_workers:
            raise ValueError(f"num_envs={num_envs} does not split evenly over num_workers={num_workers}")
        if len(cfgs) != num_envs:
            raise ValueError(f"got {len(cfgs)} env configs for num_envs={num_envs}")
        game = cfgs[0].game
        self.num_envs = num_envs
        self.num_workers = num_workers
        self.agents_per_env = game.num_agents
        self.num_agents = num_envs * game.num_agents
        obs_size = observation_size(game.obs_height, game.obs_width)
        self.single_observation_space = gymnasium.spaces.Box(0, 255, (obs_size,), np.uint8)
        self.single_action_space = gymnasium.spaces.Discrete(NUM_ACTIONS)
        self.agent_ids = np.arange(self.num_agents)
        self._envs_per_worker = num_envs // num_workers

        specs = buffer_specs(self.num_agents, obs_size)
        self._blocks = [
            shared_memory.SharedMemory(create=True, size=max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize))
            for shape, dtype in specs.values()
        ]
        names = {key: block.name for key, block in zip(specs, self._blocks)}
        self._buffer_names = tuple(specs)
        for key, block in zip(specs, self._blocks):
            shape, dtype = specs[key]
            setattr(self, key, np.ndarray(shape, dtype=dtype, buffer=block.buf))

        ctx = mp.get_context("spawn")  # no fork: the parent may hold torch threads
        self._conns, self._procs = [], []
        per_worker_agents = self._envs_per_worker * game.num_agents
        for w in range(num_workers):
            parent, child = ctx.Pipe()
            first = w * self._envs_per_worker
            agent_slice = slice(w * per_worker_agents, (w + 1) * per_worker_agents)
            proc = ctx.Process(
                target=_worker,
                args=(
                    child,
                    cfgs[first : first + self._envs_per_worker],
                    first_env_id + first,
                    seed,
                    names,
                    specs,
                    agent_slice,
                ),
                daemon=True,
                name=f"metta-rollout-{w}",
            )
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        self._closed = False

    def reset(self, seed: Optional[int] = None) -> tuple[np.ndarray, list[dict]]:
        for w in range(self.num_workers):
            self._command(w, ("reset", seed))
        self._gather()
        return self.observations, []

    def send(self, actions: np.ndarray) -> None:
        if actions is not self.actions:
            np.copyto(self.actions, np.asarray(actions).reshape(self.num_agents), casting="unsafe")
        for w in range(self.num_workers):
            self._command(w, ("step", None))

    def recv(self):
        """(obs, rewards, terminals, truncations, infos, agent_ids, masks), as PufferLib's vector."""
        infos = self._gather()
        return (
            self.observations, self.rewards, self.terminals, self.truncations,
            infos, self.agent_ids, self.masks,
        )  # fmt: skip

    def step(self, actions: np.ndarray):
        self.send(actions)
        return self.recv()[:5]

    def set_env_config(self, e: int, cfg: EnvConfig) -> None:
        """Give global env `e` a new task from its next reset."""
        w, local = divmod(e, self._envs_per_worker)
        self._command(w, ("set_env_config", (local, cfg)))

    def _command(self, w: int, message: tuple) -> None:
        try:
            self._conns[w].send(message)
        except (BrokenPipeError, ConnectionError):
            self._died(w)

    def _died(self, w: int) -> None:
        self._procs[w].join(timeout=1)
        code = self._procs[w].exitcode
        self.close()
        raise RuntimeError(f"rollout worker {w} died (exit code {code})") from None

    def _gather(self) -> list[dict]:
        infos = []
        for w, conn in enumerate(self._conns):
            try:
                status, payload = conn.recv()
            except (EOFError, ConnectionError):
                self._died(w)
            if status == "error":
                self.close()
                raise RuntimeError(f"rollout worker {w} failed:\n{payload}")
            infos += payload
        return infos

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for conn, proc in zip(self._conns, self._procs):
            if proc.is_alive():
                try:
                    conn.send(("close", None))
                except (BrokenPipeError, OSError):
                    pass
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
            conn.close()
        for key in self._buffer_names:  # drop the views before the memory they point into
            setattr(self, key, None)
        for block in self._blocks:
            block.close()
            block.unlink()

    def __enter__(self) -> "MultiprocessVecEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()
