"""Config: Hydra YAML equals the builders; bad values fail early and name the field."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from pydantic import ValidationError

from metta.mettagrid import EnvConfig, MettaGridEnv, make_arena, make_arena_easy_shaped
from metta.mettagrid.core import AG_X, AG_Y
from metta.mettagrid.layout import KIND

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def compose_env(name: str) -> EnvConfig:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        cfg = compose(overrides=[f"+env=mettagrid/arena/{name}"])
    return instantiate(cfg.env, _convert_="all")


@pytest.mark.parametrize("name, builder", [("basic", make_arena), ("basic_easy_shaped", make_arena_easy_shaped)])
def test_hydra_yaml_equals_python_builder(name, builder):
    assert compose_env(name).model_dump() == builder().model_dump()


def test_arena_easy_shaped_is_what_the_spec_says():
    cfg = make_arena_easy_shaped()
    g = cfg.game
    assert g.map_builder.objects == {"mine_red": 10, "generator_red": 5, "altar": 5, "block": 20, "wall": 20, "lasery": 0, "armory": 0}
    assert g.objects.altar.input_resources == {"battery_red": 1}
    r = g.agent.rewards.inventory
    assert (r.ore_red, r.battery_red, r.laser, r.armor, r.blueprint, r.heart) == (0.1, 0.8, 0.5, 0.5, 0.5, 1.0)
    assert g.actions.attack.consumed_resources == {"laser": 100}
    assert cfg.desync_episodes is False


def test_make_arena_places_the_objects_per_room():
    env = MettaGridEnv(make_arena(), num_envs=1, seed=5)
    env.reset(5)
    kinds = env.state.kind[0]
    assert kinds.shape == (53, 53)
    for name, per_room in {"mine_red": 10, "generator_red": 5, "altar": 5, "lasery": 1, "armory": 1}.items():
        assert (kinds == KIND[name]).sum() == 4 * per_room
    assert (env.state.agent_at[0] >= 0).sum() == 24
    # every agent is inside its own room: 6 per quadrant
    ys, xs = env.state.ag[0, :, AG_Y], env.state.ag[0, :, AG_X]
    quadrant = (ys > 26).astype(int) * 2 + (xs > 26).astype(int)
    assert sorted(quadrant.tolist()) == sorted([0] * 6 + [1] * 6 + [2] * 6 + [3] * 6)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"game": {"max_stepz": 5}}, "max_stepz"),
        ({"game": {"agent": {"rewards": {"inventory": {"ore_redd": 1.0}}}}}, "ore_redd"),
        ({"game": {"map_builder": {"objects": {"mine_blu": 1}}}}, "mine_blu"),
        ({"game": {"agent": {"resource_limits": {"hearts": 3}}}}, "hearts"),
        ({"game": {"objects": {"altar": {"input_resources": {"batery_red": 1}}}}}, "batery_red"),
        ({"game": {"obs_width": 10}}, "obs_width"),
        ({"game": {"num_agents": 5}}, "num_agents=5"),
        ({"game": {"max_steps": 0}}, "max_steps"),
        ({"game": {"objects": {"mine_red": {"cooldown": -1}}}}, "cooldown"),
        ({"game": {"map_builder": {"room_map": ["@x"], "num_rooms": 1}, "num_agents": 1}}, "unknown characters"),
        ({"game": {"map_builder": {"room_width": 3, "room_height": 3, "objects": {"wall": 9}}}}, "do not fit"),
    ],
)
def test_bad_config_fails_naming_the_field(data, field):
    with pytest.raises(ValidationError, match=field):
        EnvConfig.model_validate(data)


def test_a_task_with_another_shape_is_refused_by_the_batch():
    env = MettaGridEnv(make_arena(), num_envs=2)
    other = make_arena()
    other.game.obs_width = 7
    with pytest.raises(ValueError, match="obs_w: 11 vs 7"):
        env.set_env_config(0, other)
