"""The multiprocess rollout backend: same trajectories as serial, tasks routed, failures loud."""

import os
import signal

import numpy as np
import pytest

from metta.mettagrid import MettaGridEnv, make_arena
from metta.rl.vecenv import MultiprocessVecEnv, default_num_workers


def short_arena(max_steps=40):
    cfg = make_arena()
    cfg.game.max_steps = max_steps
    return cfg


def test_multiprocess_matches_serial_step_for_step():
    cfg = short_arena()
    serial = MettaGridEnv(cfg, num_envs=4, seed=11)
    rng = np.random.default_rng(0)
    with MultiprocessVecEnv(cfg, num_envs=4, num_workers=2, seed=11) as multi:
        np.testing.assert_array_equal(serial.reset(11)[0], multi.reset(11)[0])
        serial_infos, multi_infos = [], []
        for _ in range(90):  # crosses the desync first episodes and a full episode
            actions = rng.integers(0, 19, serial.num_agents)
            s = serial.step(actions)
            m = multi.step(actions)
            for a, b in zip(s[:4], m[:4]):
                np.testing.assert_array_equal(a, b)
            serial_infos += s[4]
            multi_infos += m[4]
    key = lambda i: (i["env_id"], i["episode_length"])  # noqa: E731
    assert sorted(serial_infos, key=key) == sorted(multi_infos, key=key)
    assert {i["env_id"] for i in multi_infos} == {0, 1, 2, 3}


def test_new_task_reaches_the_right_worker_at_its_next_reset():
    with MultiprocessVecEnv(short_arena(20), num_envs=4, num_workers=2, seed=0) as multi:
        multi.reset(0)
        task = short_arena(20)
        task.label = "special"
        task.desync_episodes = False
        multi.set_env_config(3, task)
        labels = {}
        for _ in range(60):
            for info in multi.step(np.zeros(multi.num_agents, np.int32))[4]:
                labels.setdefault(info["env_id"], []).append(info["label"])
    assert labels[3][0] == "arena/basic" and "special" in labels[3][1:]
    assert all("special" not in labels[e] for e in (0, 1, 2))


def test_a_killed_worker_is_reported_not_waited_on():
    multi = MultiprocessVecEnv(short_arena(), num_envs=2, num_workers=2, seed=0)
    multi.reset(0)
    os.kill(multi._procs[1].pid, signal.SIGKILL)
    multi._procs[1].join()
    with pytest.raises(RuntimeError, match="worker 1 died"):
        multi.step(np.zeros(multi.num_agents, np.int32))


@pytest.mark.parametrize(
    "envs, workers, message",
    [(2, 3, "more than num_envs"), (3, 2, "does not split evenly"), (2, 0, "must be >= 1")],
)
def test_bad_worker_counts_fail_before_starting(envs, workers, message):
    with pytest.raises(ValueError, match=message):
        MultiprocessVecEnv(short_arena(), num_envs=envs, num_workers=workers)


def test_default_worker_count():
    assert default_num_workers(cpu_count=2) == 1
    assert default_num_workers(cpu_count=16, gpus=1) == 8
    assert default_num_workers(cpu_count=16, gpus=4) == 2
    assert default_num_workers(cpu_count=1) == 1
