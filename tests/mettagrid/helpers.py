"""Small fixed rooms and an observation reader, so mechanics tests read like the scenario."""

from __future__ import annotations

import numpy as np

from metta.mettagrid import EnvConfig, MettaGridEnv
from metta.mettagrid.layout import ACTIONS, GRID_FEATURE, ITEM, ORIENTATION_NAMES, SELF_FEATURE, STAT


def room_env(rows: list[str], num_envs: int = 1, seed: int = 0, max_steps: int = 1000, **changes) -> MettaGridEnv:
    """One walled room laid out by `rows`; `changes` are dotted config paths -> values."""
    agents = sum(r.count("@") for r in rows)
    data: dict = {
        "desync_episodes": False,
        "game": {"num_agents": agents, "max_steps": max_steps, "map_builder": {"num_rooms": 1, "room_map": rows}},
    }
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    env = MettaGridEnv(EnvConfig.model_validate(data), num_envs=num_envs, seed=seed)
    env.reset(seed)
    return env


def action(name: str, arg: int = 0) -> int:
    return ACTIONS.index((name, arg))


def rotate(direction: str) -> int:
    return action("rotate", ORIENTATION_NAMES.index(direction))


class View:
    """What agent `g` sees: window[row, col, feature] centred on it, and its own features."""

    def __init__(self, env: MettaGridEnv, g: int = 0) -> None:
        h, w, c = env.window_shape
        obs = env.observations[g]
        self.window = obs[: h * w * c].reshape(h, w, c)
        self.own = obs[h * w * c :]
        self.cy, self.cx = h // 2, w // 2

    def at(self, dy: int, dx: int, feature: str) -> int:
        return int(self.window[self.cy + dy, self.cx + dx, GRID_FEATURE[feature]])

    def inv(self, item: str) -> int:
        return int(self.own[SELF_FEATURE[f"inv:{item}"]])

    @property
    def orientation(self) -> str:
        return ORIENTATION_NAMES[self.at(0, 0, "agent:orientation") - 1]


def stat(env: MettaGridEnv, name: str, e: int = 0, a: int = 0) -> float:
    return float(env.state.stats[e, a, STAT[name]])


def step1(env: MettaGridEnv, act: int, others: int | None = None):
    """Step with agent 0 taking `act` and every other agent `others` (default noop)."""
    actions = np.full(env.num_agents, action("noop") if others is None else others, np.int32)
    actions[0] = act
    return env.step(actions)


__all__ = ["ITEM", "View", "action", "room_env", "rotate", "stat", "step1"]
