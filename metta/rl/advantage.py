"""Generalized advantage estimation (Schulman et al. 2016) over a `[steps, agents]` rollout."""

from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    next_value: torch.Tensor,
    gamma: float,
    gae_lambda: float,
    out: torch.Tensor,
) -> torch.Tensor:
    """Advantages into `out`.  `dones[t]`: the episode ended after step t, so step t+1's value
    (or `next_value`, the value of the observation after the last step) is not bootstrapped.
    Truncation counts as an end: the observation carries the episode's progress, so the value
    can learn that time runs out."""
    steps = rewards.shape[0]
    not_done = (~dones).float()
    last = torch.zeros_like(next_value)
    for t in reversed(range(steps)):
        following = next_value if t == steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * following * not_done[t] - values[t]
        last = delta + gamma * gae_lambda * not_done[t] * last
        out[t] = last
    return out
