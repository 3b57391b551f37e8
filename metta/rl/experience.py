"""Experience: one epoch's rollout, `[steps, agents]`, and the minibatches cut from it.

Minibatches are random sets of segments: `segment` consecutive steps of one agent (the
LSTM's `bptt_horizon`, or 1 for a feed-forward policy, which makes them random samples).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Iterator, Optional

import torch


@dataclass
class Minibatch:
    obs: torch.Tensor  # uint8 [segment, n, obs]
    actions: torch.Tensor  # [segment, n]
    logprobs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    resets: torch.Tensor  # bool: the agent's episode starts at this step
    state: Optional[tuple[torch.Tensor, torch.Tensor]]  # LSTM state before each segment


class Experience:
    def __init__(
        self, steps: int, agents: int, obs_size: int, device: torch.device, segment: int = 1, state_size: int = 0
    ) -> None:
        self.steps, self.agents, self.segment = steps, agents, segment
        self.device = device
        self.obs = torch.zeros(steps, agents, obs_size, dtype=torch.uint8, device=device)
        self.actions = torch.zeros(steps, agents, dtype=torch.long, device=device)
        self.logprobs = torch.zeros(steps, agents, device=device)
        self.values = torch.zeros(steps, agents, device=device)
        self.rewards = torch.zeros(steps, agents, device=device)
        self.dones = torch.zeros(steps, agents, dtype=torch.bool, device=device)  # episode ended after the step
        self.resets = torch.zeros(steps, agents, dtype=torch.bool, device=device)  # episode began at the step
        self.advantages = torch.zeros(steps, agents, device=device)
        self.returns = torch.zeros(steps, agents, device=device)
        chunks = steps // segment
        self.state = (
            (
                torch.zeros(chunks, agents, state_size, device=device),
                torch.zeros(chunks, agents, state_size, device=device),
            )
            if state_size
            else None
        )

    def store_state(self, t: int, state) -> None:
        """Record the LSTM state an agent's segment starts from (every `segment` steps)."""
        if self.state is not None and t % self.segment == 0:
            self.state[0][t // self.segment] = state[0]
            self.state[1][t // self.segment] = state[1]

    def minibatches(self, minibatch_size: int, generator: torch.Generator) -> Iterator[Minibatch]:
        """Each segment exactly once per call, in random order."""
        chunks = self.steps // self.segment
        per_batch = minibatch_size // self.segment
        order = torch.randperm(chunks * self.agents, generator=generator).to(self.device)
        for start in range(0, order.numel(), per_batch):
            index = order[start : start + per_batch]
            chunk, agent_of_segment = index // self.agents, index % self.agents
            # [segment, n] step and agent indices of each chosen segment, as rows of the flattened
            # buffers: index_select copies whole rows, ~10x faster on CPU than 2-D fancy indexing
            step = chunk.unsqueeze(0) * self.segment + torch.arange(self.segment, device=self.device).unsqueeze(1)
            rows = (step * self.agents + agent_of_segment.unsqueeze(0)).flatten()
            take = partial(_take_rows, rows=rows, shape=step.shape)
            yield Minibatch(
                obs=take(self.obs),
                actions=take(self.actions),
                logprobs=take(self.logprobs),
                values=take(self.values),
                advantages=take(self.advantages),
                returns=take(self.returns),
                resets=take(self.resets),
                state=None
                if self.state is None
                else (self.state[0][chunk, agent_of_segment], self.state[1][chunk, agent_of_segment]),
            )


def _take_rows(buffer: torch.Tensor, rows: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """`buffer[step, agent]` for the `[steps * agents]` flat row ids `rows`, shaped `shape`."""
    return buffer.flatten(0, 1).index_select(0, rows).view(*shape, *buffer.shape[2:])
