"""Inventory rewards with caps, per-episode stats, episode infos."""

import numpy as np
import pytest

from metta.mettagrid.core import AG_RETURN
from metta.mettagrid.layout import ITEM_NAMES, STAT_NAMES
from tests.mettagrid.helpers import View, action, room_env, rotate, step1

MINE_WITH_ORE = {"output_resources": {"ore_red": 1}, "initial_resource_count": 3, "conversion_ticks": 1000}


def test_reward_is_the_change_in_value_of_the_items_held_up_to_the_cap_count():
    """`ore_red_max: 2` rewards at most two ore held (converter-era MettaGrid): a third is worth
    nothing, so giving it to a generator costs nothing, while giving one of two costs 0.1."""
    env = room_env(
        ["m@g"],
        game__objects__mine_red=MINE_WITH_ORE,
        game__objects__generator_red={"input_resources": {"ore_red": 1}, "output_resources": {"battery_red": 1},
                                      "max_output": 5, "conversion_ticks": 1000},  # fmt: skip
        game__agent__rewards={"inventory": {"ore_red": 0.1, "ore_red_max": 2}},
    )
    step1(env, rotate("left"))
    _, rewards, *_ = step1(env, action("get_items"))
    assert rewards[0] == pytest.approx(0.2)  # 3 ore held, 2 of them rewarded
    step1(env, rotate("right"))
    _, rewards, *_ = step1(env, action("put_items"))
    assert rewards[0] == pytest.approx(0.0)  # 2 ore left: still 0.2
    assert View(env).inv("ore_red") == 2
    # holding two, giving one away costs its 0.1
    env = room_env(
        ["m@g"],
        game__objects__mine_red=MINE_WITH_ORE,
        game__agent__rewards={"inventory": {"ore_red": 0.1, "ore_red_max": 2}},
        game__agent__initial_inventory={"ore_red": 2},
    )
    step1(env, rotate("right"))
    _, rewards, *_ = step1(env, action("put_items"))
    assert rewards[0] == pytest.approx(-0.1)  # 1 ore left: 0.1
    assert env.state.ag_reward[0, 0, AG_RETURN] == pytest.approx(-0.1)


def test_episode_info_has_env_agent_means_of_every_stat():
    env = room_env(["m@g", "..@"], max_steps=20, game__objects__mine_red=MINE_WITH_ORE)
    step1(env, rotate("left"))
    step1(env, action("get_items"))
    infos = []
    for _ in range(18):
        infos += step1(env, action("noop"))[4]
    assert len(infos) == 1
    info = infos[0]
    assert set(f"env_agent/{s}" for s in STAT_NAMES) <= set(info)
    assert info["env_agent/ore_red.gained"] == pytest.approx(3 / 2)  # mean over the 2 agents
    assert info["env_agent/ore_red.get"] == pytest.approx(3 / 2)
    assert info["env_agent/action.rotate.success"] == pytest.approx(1 / 2)
    assert info["env_agent/action.noop.success"] == pytest.approx((18 + 20) / 2)
    assert "env_agent/heart.gained" in info
    assert info["episode_length"] == 20 and info["desync_episode"] is False


def test_episode_end_truncates_and_resets_in_the_same_step():
    env = room_env(["m@"], max_steps=5, game__objects__mine_red=MINE_WITH_ORE)
    step1(env, rotate("left"))
    step1(env, action("get_items"))
    for _ in range(2):
        _, _, terminals, truncations, infos = step1(env, action("noop"))
        assert not truncations.any() and not infos
    _, _, terminals, truncations, infos = step1(env, action("noop"))
    assert truncations.all() and not terminals.any() and len(infos) == 1
    v = View(env)
    assert v.inv("ore_red") == 0 and v.at(0, -1, "converter:output") == 3  # a fresh episode


def test_gained_minus_lost_is_what_agents_hold_under_random_play():
    from metta.mettagrid import MettaGridEnv, make_arena

    cfg = make_arena()
    cfg.game.agent.initial_inventory = {"laser": 2, "armor": 1}
    env = MettaGridEnv(cfg, num_envs=2, seed=3)
    env.reset(3)
    rng = np.random.default_rng(0)
    for _ in range(300):
        env.step(rng.integers(0, env.single_action_space.n, env.num_agents))
    st = env.state
    for i, item in enumerate(ITEM_NAMES):
        gained = st.stats[:, :, STAT_NAMES.index(f"{item}.gained")]
        lost = st.stats[:, :, STAT_NAMES.index(f"{item}.lost")]
        start = {"laser": 2, "armor": 1}.get(item, 0)
        np.testing.assert_array_equal(start + gained - lost, st.ag_inv[:, :, i])
    assert st.stats[:, :, STAT_NAMES.index("action.move.success")].sum() > 0
