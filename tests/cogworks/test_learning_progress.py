"""The learning-progress formula on hand-computed cases, and the pool it drives."""

import math

import numpy as np
import pytest

from metta.cogworks.curriculum import Curriculum, LearningProgress, LearningProgressConfig, SingleTaskGenerator
from metta.mettagrid import make_arena_easy_shaped


def test_weights_by_hand():
    lp = LearningProgress(ema_timescale=0.5, slow_timescale_factor=2, progress_smoothing=0.1,
                          exploration_bonus=0.0, z_score_amplification=1.0)  # fmt: skip
    lp.allocate(2)
    for score in (0.0, 1.0):
        lp.update(0, score)  # fast 0 -> 0.5, slow 0 -> 0.25
    for score in (1.0, 1.0):
        lp.update(1, score)  # fast = slow = 1
    # R(0.5) = 0.45 / 0.5 = 0.9, R(0.25) = 0.225 / 0.3 = 0.75, R(1) = 0.9 / 0.9 = 1
    np.testing.assert_allclose(lp.learning_progress(), [0.15, 0.0])
    # z = [1, -1]; sigmoid(1) / (sigmoid(1) + sigmoid(-1)) = sigmoid(1)
    np.testing.assert_allclose(lp.weights(), [1 / (1 + math.exp(-1)), 1 / (1 + math.exp(1))], rtol=1e-6)


def test_emas_start_at_the_first_score_not_zero():
    lp = LearningProgress(ema_timescale=0.01)
    lp.allocate(1)
    lp.update(0, 7.0)
    assert lp.fast[0] == lp.slow[0] == 7.0


def test_new_tasks_get_the_exploration_bonus():
    lp = LearningProgress(exploration_bonus=0.3)
    lp.allocate(3)
    for _ in range(2):
        lp.update(0, 1.0)
    lp.update(1, 1.0)
    np.testing.assert_allclose(lp.learning_progress(), [0.0, 0.3, 0.3])


def test_annealed_amplification_schedule():
    cfg = LearningProgressConfig(z_score_schedule=[[1000, 30.0], [None, 10.0]])
    assert (cfg.amplification(0), cfg.amplification(999), cfg.amplification(1000)) == (30.0, 30.0, 10.0)
    with pytest.raises(ValueError, match="z_score_schedule"):
        LearningProgressConfig(z_score_schedule=[[1000, 30.0]])


def progressing_pool(**config):
    lp = LearningProgress(exploration_bonus=0.0, **config)
    lp.allocate(3)
    for i in range(10):
        lp.update(0, i / 10)  # learning
        lp.update(1, 0.5)  # flat
        lp.update(2, 0.9)  # flat, near the top
    return lp


def test_variants_cap_frontier_and_sps_gating():
    base = progressing_pool().weights()
    assert base[0] > base[1]
    capped = progressing_pool(max_sampling_tasks=1).weights()
    np.testing.assert_allclose(capped, [1.0, 0.0, 0.0])
    frontier = progressing_pool(frontier_weight=1.0).weights()  # 4p(1-p) favours mid performance
    assert frontier[2] / frontier[1] < base[2] / base[1]
    gated = progressing_pool(sps_gating=1.0)
    gated.step_time[:] = [1.0, 1.0, 4.0]  # task 2's env steps are 4x slower
    w = gated.weights()
    assert w[2] / w[1] == pytest.approx(base[2] / base[1] / 4, rel=1e-6)


def pool(**kwargs):
    return Curriculum(SingleTaskGenerator(make_arena_easy_shaped()), **kwargs)


def test_low_scoring_tasks_are_evicted_after_enough_presentations():
    curriculum = pool(num_active_tasks=4, min_presentations_for_eviction=2, eviction_percentile=25)
    weak, *others = [int(t) for t in curriculum.task_ids]
    for task in others:
        for _ in range(2):
            curriculum.complete_task(task, 1.0)
    curriculum.complete_task(weak, 0.0)
    assert weak in curriculum.slot_of  # one presentation: kept
    curriculum.complete_task(weak, 0.0)
    assert weak not in curriculum.slot_of and curriculum.evictions == 1
    assert len(curriculum.slot_of) == 4
    curriculum.complete_task(weak, 5.0)  # an episode of the evicted task finishing later: ignored
    assert curriculum.completions.sum() == 6


def test_learning_progress_curriculum_favours_the_task_being_learnt():
    curriculum = pool(num_active_tasks=2, min_presentations_for_eviction=None, algorithm=LearningProgress())
    learning, flat = (int(t) for t in curriculum.task_ids)
    for i in range(20):
        curriculum.complete_task(learning, i / 20)
        curriculum.complete_task(flat, 0.5)
    draws = [curriculum.get_task().task_id for _ in range(2000)]
    assert draws.count(learning) > 0.8 * len(draws)
    stats = curriculum.stats()
    assert stats["curriculum/pool_size"] == 2 and stats["curriculum/lp_top1_prob"] > 0.8
    assert 0 < stats["curriculum/sampling_entropy"] < math.log(2)


def test_state_round_trip_continues_identically():
    a = pool(num_active_tasks=8, min_presentations_for_eviction=3, algorithm=LearningProgress(), seed=4)
    rng = np.random.default_rng(0)
    for _ in range(60):
        a.complete_task(a.get_task().task_id, float(rng.random()))
    b = pool(num_active_tasks=8, min_presentations_for_eviction=3, algorithm=LearningProgress(), seed=99)
    b.load_state_dict(a.state_dict())
    for _ in range(30):
        ta, tb = a.get_task(), b.get_task()
        assert ta.task_id == tb.task_id
        score = float(rng.random())
        a.complete_task(ta.task_id, score)
        b.complete_task(tb.task_id, score)
    assert a.evictions == b.evictions > 0
