"""MettaGridEnv: a batch of MettaGrid environments behind PufferLib's env protocol.

Agents of all environments are flattened env-major (agent `g` is agent `g % A` of env
`g // A`) into preallocated buffers: `observations` (uint8), `rewards`, `terminals`,
`truncations`, `masks`, `actions`.  `step` runs the compiled core once for the whole batch.
An environment whose episode ends is reset in the same step (its agents' truncation flags
are set and their observations are already the new episode's), and an info dict for the
finished episode is returned: see :meth:`MettaGridEnv.episode_info`.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import gymnasium
import numpy as np

from metta.mettagrid.config import EnvConfig
from metta.mettagrid.core import AG_RETURN, ENV_TICK, reset_env, seed_rng, step_envs
from metta.mettagrid.layout import (
    GRID_FEATURE_NAMES,
    NUM_ACTIONS,
    SELF_FEATURE_NAMES,
    STAT_NAMES,
    observation_size,
)
from metta.mettagrid.params import allocate_params, allocate_state, geometry, window_shape, write_params

_STAT_KEYS = tuple(f"env_agent/{name}" for name in STAT_NAMES)


class MettaGridEnv:
    def __init__(
        self,
        cfg: EnvConfig | Sequence[EnvConfig],
        num_envs: int = 1,
        seed: int = 0,
        buf: Optional[Any] = None,
        first_env_id: int = 0,
    ) -> None:
        """`first_env_id`: the global id of env 0, when this batch is one worker's slice of a larger
        one; it keys the random streams and the `env_id` of infos, so the split changes nothing."""
        cfgs = list(cfg) if isinstance(cfg, (list, tuple)) else [cfg] * num_envs
        if len(cfgs) != num_envs:
            raise ValueError(f"got {len(cfgs)} env configs for num_envs={num_envs}")
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.geometry = geometry(cfgs[0].game)
        self.env_configs: list[EnvConfig] = []
        self.params = allocate_params(num_envs, self.geometry)
        for e, c in enumerate(cfgs):
            self._check_compatible(c)
            write_params(self.params, e, c)
            self.env_configs.append(c)
        self._pending: list[Optional[EnvConfig]] = [None] * num_envs
        self.state = allocate_state(num_envs, self.geometry)

        self.num_envs = num_envs
        self.agents_per_env = cfgs[0].game.num_agents
        self.num_agents = num_envs * self.agents_per_env
        obs_size = observation_size(self.geometry.obs_h, self.geometry.obs_w)
        self.single_observation_space = gymnasium.spaces.Box(0, 255, (obs_size,), np.uint8)
        self.single_action_space = gymnasium.spaces.Discrete(NUM_ACTIONS)
        for name, (shape, dtype) in buffer_specs(self.num_agents, obs_size).items():
            setattr(self, name, _buffer(buf, name, shape, dtype))
        self.masks[:] = True
        self.agent_ids = np.arange(self.num_agents)
        self._done = np.zeros(num_envs, np.uint8)
        self._desync_episode = np.zeros(num_envs, np.bool_)
        self._seed = seed
        self.first_env_id = first_env_id
        self._infos: list[dict] = []

    # -- layout -----------------------------------------------------------------------
    @property
    def grid_feature_names(self) -> tuple[str, ...]:
        return GRID_FEATURE_NAMES

    @property
    def self_feature_names(self) -> tuple[str, ...]:
        return SELF_FEATURE_NAMES

    @property
    def window_shape(self) -> tuple[int, int, int]:
        """The first prod(window_shape) bytes of an observation, as (rows, cols, features)."""
        return window_shape(self.geometry)

    # -- protocol ---------------------------------------------------------------------
    def reset(self, seed: Optional[int] = None) -> tuple[np.ndarray, list[dict]]:
        """Start every environment afresh; the same seed gives the same maps."""
        if seed is not None:
            self._seed = seed
        for e in range(self.num_envs):
            seed_rng(self.state.rng, e, (self._seed * 1_000_003 + self.first_env_id + e) % 2**63)
            self._apply_pending(e)
            self._desync_episode[e] = self.env_configs[e].desync_episodes
            reset_env(self.state, self.params, self.geometry, self.observations, e, self._desync_episode[e])
        self.rewards[:] = 0
        self.terminals[:] = False
        self.truncations[:] = False
        return self.observations, []

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        if actions is not self.actions:
            np.copyto(self.actions, np.asarray(actions).reshape(self.num_agents), casting="unsafe")
        step_envs(
            self.state, self.params, self.geometry, self.actions,
            self.observations, self.rewards, self.terminals, self.truncations, self._done,
        )  # fmt: skip
        infos = []
        if self._done.any():
            for e in np.flatnonzero(self._done):
                infos.append(self.episode_info(e))
                self._apply_pending(e)
                self._desync_episode[e] = False
                reset_env(self.state, self.params, self.geometry, self.observations, e, False)
        return self.observations, self.rewards, self.terminals, self.truncations, infos

    def send(self, actions: np.ndarray) -> None:
        self._infos = self.step(actions)[4]

    def recv(self):
        """PufferLib's vector protocol: (obs, rewards, terminals, truncations, infos, agent_ids, masks)."""
        return (
            self.observations, self.rewards, self.terminals, self.truncations,
            self._infos, self.agent_ids, self.masks,
        )  # fmt: skip

    def close(self) -> None:
        pass

    # -- tasks ------------------------------------------------------------------------
    def set_env_config(self, e: int, cfg: EnvConfig) -> None:
        """Use `cfg` for env `e` from its next reset on; the episode under way keeps its rules."""
        self._check_compatible(cfg)
        self._pending[e] = cfg

    def episode_info(self, e: int) -> dict:
        """The episode env `e` just finished: return, length, desync flag, per-agent stat means."""
        st = self.state
        info = {
            "env_id": self.first_env_id + int(e),
            "label": self.env_configs[e].label,
            "episode_return": float(st.ag_reward[e, :, AG_RETURN].mean()),
            "episode_length": int(st.env[e, ENV_TICK]),
            "desync_episode": bool(self._desync_episode[e]),
        }
        info.update(zip(_STAT_KEYS, st.stats[e].mean(axis=0).tolist()))
        return info

    def _apply_pending(self, e: int) -> None:
        cfg = self._pending[e]
        if cfg is not None:
            write_params(self.params, e, cfg)
            self.env_configs[e] = cfg
            self._pending[e] = None

    def _check_compatible(self, cfg: EnvConfig) -> None:
        """Buffers are sized by the geometry, so every task of a batch must share it."""
        other = geometry(cfg.game)
        if other != self.geometry:
            diffs = [
                f"{field}: {getattr(self.geometry, field)} vs {getattr(other, field)}"
                for field in self.geometry._fields
                if getattr(self.geometry, field) != getattr(other, field)
            ]
            raise ValueError(
                f"env config {cfg.label!r} changes the batch's map or observation shape ({'; '.join(diffs)})"
            )


def buffer_specs(num_agents: int, obs_size: int) -> dict[str, tuple[tuple[int, ...], type]]:
    """Name -> (shape, dtype) of every buffer of the env protocol."""
    return {
        "observations": ((num_agents, obs_size), np.uint8),
        "rewards": ((num_agents,), np.float32),
        "terminals": ((num_agents,), np.bool_),
        "truncations": ((num_agents,), np.bool_),
        "masks": ((num_agents,), np.bool_),
        "actions": ((num_agents,), np.int32),
    }


def _buffer(buf: Optional[Any], name: str, shape: tuple, dtype) -> np.ndarray:
    """Use the caller's (e.g. shared-memory) array when given, else allocate one."""
    if buf is None:
        return np.zeros(shape, dtype=dtype)
    array = buf[name] if isinstance(buf, dict) else getattr(buf, name)
    if array.shape != shape or array.dtype != dtype:
        raise ValueError(f"buffer {name!r} must be {np.dtype(dtype).name}{shape}, got {array.dtype}{array.shape}")
    return array
