"""CurriculumEnv: tasks change only at resets, scores are episode returns, the stream is written."""

import json

import numpy as np
import pytest

from metta.cogworks.curriculum import (
    BucketedTaskGenerator,
    CompletionWriter,
    Curriculum,
    CurriculumEnv,
    read_completions,
)
from metta.mettagrid import MettaGridEnv, make_arena_easy_shaped
from metta.rl.vecenv import MultiprocessVecEnv


def curriculum_env(tmp_path, num_envs=2, desync=False, target=None, backend="serial"):
    base = make_arena_easy_shaped()
    base.desync_episodes = desync
    generator = BucketedTaskGenerator(env=base, buckets={"game.max_steps": [20, 30, 45]}, reward_target_bucket=target)
    curriculum = Curriculum(generator, num_active_tasks=6, min_presentations_for_eviction=None, seed=1)
    tasks = [curriculum.get_task() for _ in range(num_envs)]
    cfgs = [t.env_cfg for t in tasks]
    if backend == "serial":
        env = MettaGridEnv(cfgs, num_envs=num_envs, seed=3)
    else:
        env = MultiprocessVecEnv(cfgs, num_envs=num_envs, num_workers=2, seed=3)
    return CurriculumEnv(env, curriculum, tasks, CompletionWriter(tmp_path, seed=3))


def run(env, steps, seed=0):
    env.reset(seed)
    rng = np.random.default_rng(seed)
    infos = []
    for _ in range(steps):
        infos += env.step(rng.integers(0, 19, env.num_agents))[4]
    return infos


@pytest.mark.parametrize("backend", ["serial", "multiprocess"])
def test_each_episode_runs_its_task_whole(tmp_path, backend):
    """Tasks differ in max_steps: every episode's length must be its own task's max_steps."""
    env = curriculum_env(tmp_path, backend=backend)
    try:
        infos = run(env, 300)
    finally:
        env.close()
    assert len(infos) >= 12
    for info in infos:
        assert info["episode_length"] == env.curriculum.task(info["task_id"]).env_cfg.game.max_steps
    assert len({info["task_id"] for info in infos}) > 1


def test_scores_are_episode_returns_and_desync_episodes_are_not_scored(tmp_path):
    env = curriculum_env(tmp_path, desync=True)
    scored = []
    env.curriculum.complete_task = lambda task_id, score, *rest: scored.append((task_id, score))
    infos = run(env, 200)
    desynced = [i for i in infos if i["desync_episode"]]
    assert desynced and len(scored) == len(infos) - len(desynced)
    assert scored == [(i["task_id"], i["episode_return"]) for i in infos if not i["desync_episode"]]


def test_task_scaled_performance(tmp_path):
    env = curriculum_env(tmp_path, target=[0.05])
    infos = run(env, 100)
    for info in infos:
        expected = min(info["episode_return"] / 0.05, 1.0)
        assert info["task_scaled_performance"] == {info["task_id"]: expected}
    without = curriculum_env(tmp_path / "none")
    assert all("task_scaled_performance" not in i for i in run(without, 100))


def test_completion_stream(tmp_path):
    env = curriculum_env(tmp_path)
    env.sps = 123.0
    infos = run(env, 120)
    env.writer.flush()
    table = read_completions(tmp_path).to_pylist()
    assert [r["episode_return"] for r in table] == [i["episode_return"] for i in infos]
    assert {r["seed"] for r in table} == {3} and {r["sps"] for r in table} == {123.0}
    per_task = {}
    for r in table:
        assert r["completion_index"] == per_task.get(r["task_id"], 0)
        per_task[r["task_id"]] = r["completion_index"] + 1
        assert r["agent_step"] % 48 == 0 and r["agent_step"] > 0
    assert all(np.isnan(r["task_scaled_performance"]) for r in table)
    metadata = json.loads((tmp_path / "completions" / "metadata.json").read_text())
    assert set(metadata["tasks"]) == {str(t) for t in per_task}
    assert metadata["tasks"][str(table[0]["task_id"])]["env_cfg"]["game"]["max_steps"] in (20, 30, 45)


def test_gae_input_waits_for_the_trainers_advantages(tmp_path):
    from metta.cogworks.curriculum import LearningProgress

    env = curriculum_env(tmp_path)
    env.curriculum.algorithm = LearningProgress(lp_input="gae")
    env.curriculum.algorithm.allocate(env.curriculum.num_active_tasks)
    infos = run(env, 50)
    assert env.curriculum.completions.sum() == 0  # nothing scored before the advantages arrive
    waiting = [len(q) for q in env.awaiting_advantage]
    assert sum(waiting) == len(infos)
    env.report_episode_advantages([(e, 0.25 * e) for e, n in enumerate(waiting) for _ in range(n)])
    assert env.curriculum.completions.sum() == len(infos)
    scored = env.curriculum.algorithm.fast[env.curriculum.algorithm.count > 0]
    assert set(np.round(scored, 6)) <= {0.0, 0.25}


def test_one_task_through_the_wrapper_plays_exactly_as_the_bare_env():
    """Spec 003's suspect "CurriculumEnv on/off": with one task (the arena recipe) the wrapper
    changes nothing the agents see or earn, step for step, across episode ends and resets."""
    from metta.cogworks.curriculum import SingleTaskGenerator

    cfg = make_arena_easy_shaped()
    cfg.game.max_steps = 25
    curriculum = Curriculum(SingleTaskGenerator(cfg), num_active_tasks=1, seed=0)
    tasks = [curriculum.get_task() for _ in range(2)]
    wrapped = CurriculumEnv(MettaGridEnv([t.env_cfg for t in tasks], num_envs=2, seed=4), curriculum, tasks)
    bare = MettaGridEnv(cfg, num_envs=2, seed=4)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(wrapped.reset(4)[0], bare.reset(4)[0])
    ended = 0
    for _ in range(80):
        actions = rng.integers(0, 19, bare.num_agents)
        got, want = wrapped.step(actions), bare.step(actions)
        for a, b in zip(got[:4], want[:4]):
            np.testing.assert_array_equal(a, b)
        ended += len(want[4])
    assert ended == 6  # three episodes of each env went through a reset
