"""GAE, the PPO loss and action sampling against hand-computed or reference values."""

import torch

from metta.rl.advantage import compute_gae
from metta.rl.config import TrainerConfig
from metta.rl.experience import Minibatch
from metta.rl.ppo import ppo_loss, sample_actions


def reference_gae(rewards, values, dones, next_value, gamma, lam):
    """Straight from the paper's definition, one agent at a time."""
    steps, agents = rewards.shape
    out = torch.zeros(steps, agents)
    for a in range(agents):
        for t in range(steps):
            total, discount = 0.0, 1.0
            for k in range(t, steps):
                following = next_value[a] if k == steps - 1 else values[k + 1, a]
                delta = rewards[k, a] + gamma * following * (not dones[k, a]) - values[k, a]
                total += discount * delta
                if dones[k, a]:
                    break
                discount *= gamma * lam
            out[t, a] = total
    return out


def test_gae_matches_the_definition_across_episode_ends():
    g = torch.Generator().manual_seed(0)
    rewards, values = torch.rand(12, 3, generator=g), torch.rand(12, 3, generator=g)
    dones = torch.zeros(12, 3, dtype=torch.bool)
    dones[4, 0] = dones[11, 1] = dones[0, 2] = dones[7, 2] = True
    next_value = torch.rand(3, generator=g)
    got = compute_gae(rewards, values, dones, next_value, 0.9, 0.8, torch.zeros(12, 3))
    torch.testing.assert_close(got, reference_gae(rewards, values, dones, next_value, 0.9, 0.8))


def test_gae_one_step_by_hand():
    got = compute_gae(
        torch.tensor([[1.0]]), torch.tensor([[0.5]]), torch.tensor([[False]]), torch.tensor([2.0]), 0.9, 0.95,
        torch.zeros(1, 1),
    )  # fmt: skip
    assert abs(got.item() - (1.0 + 0.9 * 2.0 - 0.5)) < 1e-6


def config(**changes):
    base = dict(optimizer={"_target_": "torch.optim.Adam", "_partial_": True}, norm_adv=False, ent_coef=0.0)
    return TrainerConfig(**{**base, **changes})


def minibatch(logprobs, advantages, values=None, returns=None, actions=None):
    n = len(logprobs)
    return Minibatch(
        obs=None, actions=torch.zeros(n, dtype=torch.long) if actions is None else actions,
        logprobs=torch.tensor(logprobs), values=torch.zeros(n) if values is None else torch.tensor(values),
        advantages=torch.tensor(advantages), returns=torch.zeros(n) if returns is None else torch.tensor(returns),
        resets=None, state=None,
    )  # fmt: skip


def test_clipped_surrogate_stops_pushing_past_the_clip():
    cfg = config(clip_coef=0.2, vf_coef=0.0)
    # logits with action 0 at log-prob log(0.5); the old log-prob makes the ratio 0.5 / old
    logits = torch.log(torch.tensor([[0.5, 0.5]])).requires_grad_()
    inside = minibatch([torch.log(torch.tensor(0.5)).item()], [1.0])  # ratio 1: gradient flows
    ppo_loss(logits, torch.zeros(1), inside, cfg)[0].backward()
    assert logits.grad.abs().sum() > 0
    logits.grad = None
    beyond = minibatch([torch.log(torch.tensor(0.3)).item()], [1.0])  # ratio 1.67 > 1.2 with A > 0: clipped
    loss, parts = ppo_loss(logits, torch.zeros(1), beyond, cfg)
    loss.backward()
    assert logits.grad.abs().sum() == 0
    assert parts["clipfrac"] == 1.0
    torch.testing.assert_close(loss, torch.tensor(-1.2))


def test_value_clipping_keeps_the_pessimistic_error():
    cfg = config(vf_clip_coef=0.1, vf_coef=1.0)
    mb = minibatch([0.0], [0.0], values=[0.0], returns=[1.0])
    logits = torch.zeros(1, 2)
    # new value 0.5: clipped to 0.1, error (0.1 - 1)^2 > (0.5 - 1)^2, so the clipped one counts
    _, parts = ppo_loss(logits, torch.tensor([0.5]), mb, cfg)
    torch.testing.assert_close(parts["value_loss"], torch.tensor(0.5 * 0.9**2))
    _, parts = ppo_loss(logits, torch.tensor([0.5]), mb, config(vf_clip_coef=0.0))
    torch.testing.assert_close(parts["value_loss"], torch.tensor(0.5 * 0.5**2))


def test_sampled_actions_follow_the_softmax_and_report_their_log_prob():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    logits = probs.log().expand(200_000, 4)
    actions, logp = sample_actions(logits, torch.Generator().manual_seed(1))
    freq = torch.bincount(actions, minlength=4).float() / actions.numel()
    torch.testing.assert_close(freq, probs, atol=0.005, rtol=0)
    torch.testing.assert_close(logp, probs.log()[actions])
