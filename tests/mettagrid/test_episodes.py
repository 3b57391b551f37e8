"""Episodes and the env protocol: desync, seeding, task changes at reset, buffers, layout."""

import numpy as np
import pytest

from metta.mettagrid import MettaGridEnv, make_arena, make_arena_easy_shaped
from metta.mettagrid.layout import GRID_FEATURE_NAMES, SELF_FEATURE_NAMES, observation_size
from tests.mettagrid.helpers import View, action, room_env


def run_until_episodes_end(env, steps):
    infos = []
    noop = np.zeros(env.num_agents, np.int32)
    for _ in range(steps):
        infos += env.step(noop)[4]
    return infos


def test_desync_gives_each_first_episode_a_random_length_and_flags_it():
    cfg = make_arena()
    cfg.game.max_steps = 50
    env = MettaGridEnv(cfg, num_envs=8, seed=1)
    env.reset(1)
    infos = run_until_episodes_end(env, 100)
    first = {}
    for info in infos:
        first.setdefault(info["env_id"], info)
    assert len(first) == 8
    lengths = [first[e]["episode_length"] for e in range(8)]
    assert all(1 <= n <= 50 for n in lengths) and len(set(lengths)) > 1
    assert all(first[e]["desync_episode"] for e in range(8))
    later = [i for i in infos if i not in first.values()]
    assert later and all(i["episode_length"] == 50 and not i["desync_episode"] for i in later)


def test_without_desync_every_episode_runs_to_max_steps():
    cfg = make_arena_easy_shaped()
    cfg.game.max_steps = 30
    env = MettaGridEnv(cfg, num_envs=3)
    env.reset(0)
    infos = run_until_episodes_end(env, 60)
    assert len(infos) == 6 and all(i["episode_length"] == 30 and not i["desync_episode"] for i in infos)


def test_same_seed_same_maps_and_trajectory_other_seed_other_map():
    def rollout(seed):
        env = MettaGridEnv(make_arena(), num_envs=2, seed=seed)
        obs = [env.reset(seed)[0].copy()]
        rng = np.random.default_rng(0)
        for _ in range(50):
            obs.append(env.step(rng.integers(0, 19, env.num_agents))[0].copy())
        return np.stack(obs), env.state.kind.copy()

    a_obs, a_map = rollout(7)
    b_obs, b_map = rollout(7)
    c_obs, c_map = rollout(8)
    np.testing.assert_array_equal(a_obs, b_obs)
    np.testing.assert_array_equal(a_map, b_map)
    assert not np.array_equal(a_map, c_map)
    assert not np.array_equal(a_map[0], a_map[1])  # envs of a batch get different maps


def test_new_task_applies_at_the_next_reset_not_mid_episode():
    env = room_env(["m@"], max_steps=10)
    harder = env.env_configs[0].model_copy(deep=True)
    harder.game.objects.mine_red.initial_resource_count = 4
    harder.label = "rich mine"
    env.set_env_config(0, harder)
    assert View(env).at(0, -1, "converter:output") == 0  # the running episode keeps its rules
    infos = run_until_episodes_end(env, 10)
    assert infos[0]["label"] == "mettagrid"
    assert View(env).at(0, -1, "converter:output") == 4
    assert env.env_configs[0].label == "rich mine"


def test_observation_layout_is_stable_across_tasks():
    a = MettaGridEnv(make_arena(), num_envs=1)
    b = MettaGridEnv(make_arena_easy_shaped(), num_envs=1)
    assert a.single_observation_space == b.single_observation_space
    assert a.grid_feature_names == b.grid_feature_names == GRID_FEATURE_NAMES
    assert a.self_feature_names == SELF_FEATURE_NAMES
    assert a.single_observation_space.shape == (observation_size(11, 11),)
    assert a.window_shape == (11, 11, len(GRID_FEATURE_NAMES))


def test_agent_sees_itself_at_the_centre_and_walls_around_the_room():
    env = room_env(["@"])
    v = View(env)
    assert v.at(0, 0, "agent") == 1 and v.orientation == "up"
    for dy, dx in [(-1, 0), (1, 0), (0, -1), (0, 1)]:
        assert v.at(dy, dx, "wall") == 1
    assert v.window[:, :, 0].sum() == 1  # one agent in view; outside the map is empty


def test_episode_progress_counts_up():
    env = room_env(["@"], max_steps=10)
    for _ in range(5):
        env.step(np.array([action("noop")], np.int32))
    assert View(env).own[SELF_FEATURE_NAMES.index("episode_progress")] == 5 * 255 // 10


def test_caller_buffers_are_filled_in_place():
    n, size = 24, observation_size(11, 11)
    buf = {
        "observations": np.zeros((n, size), np.uint8), "rewards": np.zeros(n, np.float32),
        "terminals": np.zeros(n, bool), "truncations": np.zeros(n, bool), "masks": np.zeros(n, bool),
        "actions": np.zeros(n, np.int32),
    }  # fmt: skip
    env = MettaGridEnv(make_arena(), num_envs=1, buf=buf)
    env.reset(0)
    assert buf["observations"].any() and buf["masks"].all()
    buf["actions"][:] = action("move", 0)
    env.send(buf["actions"])
    obs, rewards, terminals, truncations, infos, ids, masks = env.recv()
    assert obs is buf["observations"] and rewards is buf["rewards"]
    np.testing.assert_array_equal(ids, np.arange(n))


def test_wrong_buffer_is_refused_with_its_name():
    buf = {"observations": np.zeros((3, 3), np.uint8)}
    with pytest.raises(ValueError, match="observations"):
        MettaGridEnv(make_arena(), num_envs=1, buf=buf)
