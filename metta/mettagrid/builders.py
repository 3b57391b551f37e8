"""The arena tasks as Python builders; configs/env/mettagrid/arena/*.yaml hold the same values."""

from __future__ import annotations

from metta.mettagrid.config import EnvConfig


def make_arena(num_agents: int = 24) -> EnvConfig:
    """The standard arena: heart-only reward, 3-battery altar, combat on (laser cost 1)."""
    cfg = EnvConfig(label="arena/basic")
    game = cfg.game
    game.map_builder.num_rooms = num_agents // game.map_builder.agents_per_room
    game.num_agents = num_agents
    game.map_builder.objects = {
        "mine_red": 10, "generator_red": 5, "altar": 5, "block": 0, "wall": 10, "lasery": 1, "armory": 1,
    }  # fmt: skip
    game.agent.rewards.inventory.heart = 1.0
    return cfg


def make_arena_easy_shaped(num_agents: int = 24) -> EnvConfig:
    """The arena that learns on a laptop: shaped rewards, 1-battery altar, no combat, no desync."""
    cfg = make_arena(num_agents)
    cfg.label = "arena/basic_easy_shaped"
    cfg.desync_episodes = False
    game = cfg.game
    game.map_builder.objects = {
        "mine_red": 10, "generator_red": 5, "altar": 5, "block": 20, "wall": 20, "lasery": 0, "armory": 0,
    }  # fmt: skip
    game.objects.altar.input_resources = {"battery_red": 1}
    rewards = game.agent.rewards.inventory
    for item, weight in (("ore_red", 0.1), ("battery_red", 0.8), ("laser", 0.5), ("armor", 0.5), ("blueprint", 0.5)):
        setattr(rewards, item, weight)
        setattr(rewards, f"{item}_max", 1.0)
    rewards.heart = 1.0
    game.actions.attack.consumed_resources = {"laser": 100}
    return cfg
