"""The policy reads the env's observations; the LSTM's training pass replays the rollout's."""

import pytest
import torch

from metta.mettagrid import MettaGridEnv, make_arena_easy_shaped
from metta.mettagrid.layout import NUM_GRID_FEATURES, observation_size
from metta.mettagrid.params import geometry, window_shape
from metta.rl.experience import Experience
from metta.rl.policy import ConvPolicy


def env_obs(steps=6):
    env = MettaGridEnv(make_arena_easy_shaped(), num_envs=1, seed=3)
    obs, _ = env.reset(3)
    frames = []
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        frames.append(torch.from_numpy(obs.copy()))
        obs = env.step(torch.randint(0, 19, (env.num_agents,), generator=g).numpy())[0]
    return torch.stack(frames)  # [T, agents, obs]


def test_feed_forward_policy_treats_time_and_batch_alike():
    torch.manual_seed(0)
    policy = ConvPolicy(window_shape(geometry(make_arena_easy_shaped().game)))
    obs = env_obs()
    logits, values, state = policy(obs)
    assert logits.shape == (6, 24, 19) and values.shape == (6, 24) and state is None
    flat_logits, flat_values, _ = policy(obs.reshape(1, 6 * 24, -1))
    torch.testing.assert_close(flat_logits.view(6, 24, 19), logits)


def test_lstm_sequence_pass_equals_stepping_with_resets():
    """Training runs a segment in one call; it must give what the rollout saw step by step."""
    torch.manual_seed(0)
    policy = ConvPolicy(window_shape(geometry(make_arena_easy_shaped().game)), lstm=True)
    obs = env_obs()
    resets = torch.zeros(6, 24, dtype=torch.bool)
    resets[0] = True
    resets[3, :5] = True  # five agents start a new episode at step 3
    state = (torch.randn(24, policy.hidden_size), torch.randn(24, policy.hidden_size))

    stepped, s = [], state
    for t in range(6):
        _, values, s = policy(obs[t : t + 1], s, resets[t : t + 1])
        stepped.append(values[0])
    _, whole, s_whole = policy(obs, state, resets)
    torch.testing.assert_close(whole, torch.stack(stepped))
    torch.testing.assert_close(s_whole[0], s[0])
    # and the reset really cut the memory: without it step 3 differs for those agents
    only_first = torch.zeros_like(resets)
    only_first[0] = True
    _, no_reset, _ = policy(obs, state, only_first)
    assert (no_reset[3, :5] - whole[3, :5]).abs().min() > 1e-6
    torch.testing.assert_close(no_reset[3, 5:], whole[3, 5:])


def test_minibatches_cover_every_segment_once_with_its_state():
    exp = Experience(steps=8, agents=3, obs_size=2, device=torch.device("cpu"), segment=4, state_size=1)
    exp.values[:] = torch.arange(24, dtype=torch.float32).view(8, 3)  # value = step * 3 + agent
    for t in (0, 4):
        exp.store_state(t, (torch.full((3, 1), float(t)), torch.zeros(3, 1)))
    seen = []
    for mb in exp.minibatches(minibatch_size=8, generator=torch.Generator().manual_seed(0)):
        assert mb.values.shape == (4, 2)  # 2 segments of 4 steps
        for j in range(2):
            column = mb.values[:, j].long()
            step0, agent = divmod(int(column[0]), 3)
            assert column.tolist() == [(step0 + k) * 3 + agent for k in range(4)]  # consecutive steps, one agent
            assert mb.state[0][j].item() == step0  # the state stored at the segment's start
            seen.append((step0, agent))
    assert sorted(seen) == sorted((s, a) for s in (0, 4) for a in range(3))


def test_first_policy_gives_every_action_type_the_same_share():
    from collections import defaultdict

    from metta.mettagrid.layout import ACTIONS

    torch.manual_seed(0)
    policy = ConvPolicy(window_shape(geometry(make_arena_easy_shaped().game)))
    probs = policy(env_obs(1))[0].softmax(-1).mean((0, 1))
    per_type = defaultdict(float)
    for (name, _), p in zip(ACTIONS, probs.tolist()):
        per_type[name] += p
    assert max(per_type.values()) - min(per_type.values()) < 0.01  # attack's 9 targets share 1/7
    uniform = ConvPolicy(window_shape(geometry(make_arena_easy_shaped().game)), action_prior="uniform")
    assert uniform(env_obs(1))[0].softmax(-1).mean((0, 1))[ACTIONS.index(("attack", 1))] > 0.05


def test_encoder_is_given_the_heading_and_the_cell_in_front():
    """What put/get act on: turning towards a mine, a generator or an altar changes exactly
    the heading and front-cell inputs of the encoder's first layer."""
    from metta.mettagrid.layout import GRID_FEATURE
    from tests.mettagrid.helpers import room_env, rotate, step1

    env = room_env([".m.", "g@a", "..."])
    policy = ConvPolicy((11, 11, 13))
    seen = {}
    policy.encoder.register_forward_hook(lambda module, inputs, output: seen.update(x=inputs[0][0]))
    for heading, (direction, thing) in enumerate(
        [("up", "mine_red"), ("down", None), ("left", "generator_red"), ("right", "altar")]
    ):
        obs = step1(env, rotate(direction))[0]
        policy.encode(torch.from_numpy(obs))
        front, one_hot = seen["x"][-13:], seen["x"][-17:-13]
        assert one_hot.tolist() == [float(i == heading) for i in range(4)]
        kinds = {name for name in ("mine_red", "generator_red", "altar") if front[GRID_FEATURE[name]] > 0}
        assert kinds == ({thing} if thing else set())


def test_second_convolution_as_one_matrix_product_is_the_convolution():
    torch.manual_seed(0)
    policy = ConvPolicy(window_shape(geometry(make_arena_easy_shaped().game)))
    assert policy.conv2_is_dense  # the 11x11 window takes the fast path
    obs = env_obs(2).flatten(0, 1)
    dense = policy.encode(obs)
    policy.conv2_is_dense = False
    torch.testing.assert_close(policy.encode(obs), dense)


def test_a_window_too_small_for_the_convolutions_is_refused_by_name():
    with pytest.raises(ValueError, match="at least 11x11, got 9x9"):
        ConvPolicy((9, 9, NUM_GRID_FEATURES))
    wide = ConvPolicy((15, 15, NUM_GRID_FEATURES))  # conv2 is a real convolution there (2x2 output)
    assert not wide.conv2_is_dense
    assert wide(torch.zeros(1, 4, observation_size(15, 15), dtype=torch.uint8))[0].shape == (1, 4, 19)
