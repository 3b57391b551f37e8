"""Compile EnvConfigs into the arrays the compiled core reads (one row per environment)."""

from __future__ import annotations

import math

import numpy as np

from metta.mettagrid import core
from metta.mettagrid.config import EnvConfig, GameConfig
from metta.mettagrid.core import Geometry, Params, State
from metta.mettagrid.layout import (
    ACTION_TYPE_NAMES,
    CONVERTER_NAMES,
    ITEM,
    ITEM_NAMES,
    KIND,
    NUM_GRID_FEATURES,
    NUM_ITEMS,
    NUM_KINDS,
    NUM_STATS,
    ROOM_MAP_CHARS,
)


def window_shape(geo: Geometry) -> tuple[int, int, int]:
    """The first prod(window_shape) bytes of an observation, as (rows, cols, features)."""
    return geo.obs_h, geo.obs_w, NUM_GRID_FEATURES


def geometry(game: GameConfig) -> Geometry:
    mb = game.map_builder
    return Geometry(
        rooms=mb.num_rooms,
        rooms_per_row=math.ceil(math.sqrt(mb.num_rooms)),
        room_h=mb.room_height,
        room_w=mb.room_width,
        agents_per_room=mb.agents_per_room,
        obs_h=game.obs_height,
        obs_w=game.obs_width,
    )


def map_shape(geo: Geometry) -> tuple[int, int]:
    rows = math.ceil(geo.rooms / geo.rooms_per_row)
    return rows * (geo.room_h + 1) + 1, geo.rooms_per_row * (geo.room_w + 1) + 1


def allocate_params(num_envs: int, geo: Geometry) -> Params:
    E = num_envs
    return Params(
        conv=np.zeros((E, NUM_KINDS, core.CONV_FIELDS), np.int32),
        items=np.zeros((E, core.ITEM_ROWS, NUM_ITEMS), np.int32),
        rew=np.zeros((E, 2, NUM_ITEMS), np.float32),
        misc=np.zeros((E, core.MISC_FIELDS), np.int32),
        room_map=np.full((E, geo.room_h * geo.room_w), -2, np.int32),
    )


def write_params(params: Params, e: int, cfg: EnvConfig) -> None:
    """Fill row `e` of `params` from `cfg` (the whole row, so nothing of an earlier task survives)."""
    game, agent = cfg.game, cfg.game.agent
    conv = params.conv[e]
    conv[:] = 0
    for name in CONVERTER_NAMES:
        spec = getattr(game.objects, name)
        k = KIND[name]
        conv[k, core.CONV_IN : core.CONV_IN + NUM_ITEMS] = _item_vector(spec.input_resources)
        conv[k, core.CONV_OUT : core.CONV_OUT + NUM_ITEMS] = _item_vector(spec.output_resources)
        conv[k, core.CONV_MAX_OUT] = spec.max_output
        conv[k, core.CONV_TICKS] = spec.conversion_ticks
        conv[k, core.CONV_COOL] = spec.cooldown
        conv[k, core.CONV_INIT] = spec.initial_resource_count

    items = params.items[e]
    items[core.ITEM_LIMIT] = agent.default_resource_limit
    for name, limit in agent.resource_limits.items():
        items[core.ITEM_LIMIT, ITEM[name]] = limit
    items[core.ITEM_INIT] = _item_vector(agent.initial_inventory)
    items[core.ITEM_ATTACK_COST] = _item_vector(game.actions.attack.consumed_resources)
    items[core.ITEM_ATTACK_DEF] = _item_vector(game.actions.attack.defense_resources)

    rewards = agent.rewards.inventory
    for i, name in enumerate(ITEM_NAMES):
        cap = getattr(rewards, f"{name}_max")
        params.rew[e, core.REW_WEIGHT, i] = getattr(rewards, name)
        params.rew[e, core.REW_CAP, i] = np.inf if cap is None else cap

    misc = params.misc[e]
    misc[:] = 0
    misc[core.MISC_FREEZE] = agent.freeze_duration
    misc[core.MISC_MAX_STEPS] = game.max_steps
    for t, name in enumerate(ACTION_TYPE_NAMES):
        misc[core.MISC_ACTION_ENABLED + t] = getattr(game.actions, name).enabled
    misc[core.MISC_SWAPPABLE + KIND["wall"]] = game.objects.wall.swappable
    misc[core.MISC_SWAPPABLE + KIND["block"]] = game.objects.block.swappable
    for name, count in game.map_builder.objects.items():
        misc[core.MISC_ROOM_COUNTS + KIND[name]] = count

    room_map = game.map_builder.room_map
    params.room_map[e] = -2 if room_map is None else [ROOM_MAP_CHARS[ch] for row in room_map for ch in row]


def _item_vector(resources: dict[str, int]) -> np.ndarray:
    v = np.zeros(NUM_ITEMS, dtype=np.int32)
    for name, amount in resources.items():
        v[ITEM[name]] = amount
    return v


def allocate_state(num_envs: int, geo: Geometry) -> State:
    E, A = num_envs, geo.rooms * geo.agents_per_room
    H, W = map_shape(geo)
    M = geo.rooms * geo.room_h * geo.room_w  # every room cell could hold a converter
    return State(
        kind=np.zeros((E, H, W), np.uint8),
        agent_at=np.full((E, H, W), -1, np.int16),
        conv_at=np.full((E, H, W), -1, np.int16),
        feat=np.zeros((E, H + geo.obs_h - 1, (W + geo.obs_w - 1) * NUM_GRID_FEATURES), np.uint8),
        ag=np.zeros((E, A, core.AG_FIELDS), np.int32),
        ag_inv=np.zeros((E, A, NUM_ITEMS), np.int32),
        ag_reward=np.zeros((E, A, 2), np.float32),
        stats=np.zeros((E, A, NUM_STATS), np.float32),
        cv=np.zeros((E, M, core.CV_FIELDS), np.int32),
        cv_inv=np.zeros((E, M, NUM_ITEMS), np.int32),
        env=np.zeros((E, core.ENV_FIELDS), np.int32),
        rng=np.ones(E, np.uint64),
        scratch=np.zeros((E, geo.room_h * geo.room_w), np.int32),
    )
