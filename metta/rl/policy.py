"""The default agent: a convolutional encoder over the observation window, an optional LSTM,
and actor/critic heads.

Observations arrive as the env writes them, uint8 `[.., rows * cols * features + self]`
(docs/environment.md).  The window is read in place as a channels-last image, which is the
layout the CPU convolution kernels (oneDNN) run fastest on; the self features join after the
convolutions, `last_action` one-hot encoded (it is an id, not a quantity), with the agent's
orientation (one-hot) and the features of the cell in front of it: put, get, swap and move act
on that cell, and after two convolutions it is otherwise blurred into 32 numbers.

One forward serves rollout and training, so DistributedDataParallel sees every training pass:
inputs are `[T, B, obs]` (rollout: T = 1; training: B segments of T steps).  With the LSTM,
`resets[t, b]` zeroes agent b's state before step t (its episode starts there).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Literal, Optional

import torch
from torch import nn
from torch.nn import functional as F

from metta.mettagrid.layout import (
    ACTIONS,
    GRID_FEATURE,
    ITEM_NAMES,
    NUM_ACTIONS,
    ORIENTATION_NAMES,
    SELF_FEATURE,
    SELF_FEATURE_NAMES,
)

State = Optional[tuple[torch.Tensor, torch.Tensor]]

# Divisors that bring each input feature to roughly [0, 1]; features not listed are flags.
_GRID_SCALE = {"agent:orientation": 4.0, "converter:output": 5.0}
_SELF_SCALE = {**{f"inv:{item}": 10.0 for item in ITEM_NAMES}, "last_action_success": 1.0, "episode_progress": 255.0}
# The encoder's two convolutions; the smallest window leaves conv2 an input of its kernel's size.
_CONV1_KERNEL, _CONV1_STRIDE, _CONV2_KERNEL = 5, 3, 3
_MIN_WINDOW = _CONV1_KERNEL + _CONV1_STRIDE * (_CONV2_KERNEL - 1)


class ConvPolicy(nn.Module):
    def __init__(
        self,
        window_shape: tuple[int, int, int],
        num_actions: int = NUM_ACTIONS,
        cnn_channels: int = 16,
        hidden_size: int = 128,
        lstm: bool = False,
        action_prior: Literal["per_type", "uniform"] = "per_type",
    ) -> None:
        super().__init__()
        rows, cols, features = window_shape
        if rows < _MIN_WINDOW or cols < _MIN_WINDOW:
            raise ValueError(
                f"ConvPolicy needs an observation window of at least {_MIN_WINDOW}x{_MIN_WINDOW}, got {rows}x{cols}"
            )
        self.window_shape = window_shape
        self.window_size = rows * cols * features
        grid_scale = torch.ones(features)
        for name, scale in _GRID_SCALE.items():
            grid_scale[GRID_FEATURE[name]] = 1.0 / scale
        self.register_buffer("grid_scale", grid_scale.view(1, features, 1, 1), persistent=False)  # per input channel
        self_names = [n for n in SELF_FEATURE_NAMES if n != "last_action"]
        self.register_buffer("self_index", torch.tensor([SELF_FEATURE[n] for n in self_names]), persistent=False)
        self.register_buffer("self_scale", torch.tensor([1.0 / _SELF_SCALE[n] for n in self_names]), persistent=False)
        self.last_action_index = SELF_FEATURE["last_action"]
        self.num_actions = num_actions
        self.orientation_channel = GRID_FEATURE["agent:orientation"]
        # The cells next to the window's centre, in orientation order (up, down, left, right).
        centre_row, centre_col = rows // 2, cols // 2
        self.register_buffer(
            "neighbour_offsets",
            torch.tensor([(centre_row + dy) * cols + centre_col + dx for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]),
            persistent=False,
        )

        self.conv1 = nn.Conv2d(features, cnn_channels, kernel_size=_CONV1_KERNEL, stride=_CONV1_STRIDE)
        self.conv2 = nn.Conv2d(cnn_channels, 2 * cnn_channels, kernel_size=_CONV2_KERNEL)
        conv1_out = [(side - _CONV1_KERNEL) // _CONV1_STRIDE + 1 for side in (rows, cols)]
        # On the 11x11 window conv2's kernel covers conv1's whole 3x3 output: it is then one matrix
        # product, which runs a training step ~15% faster than oneDNN's convolution of it.
        self.conv2_is_dense = conv1_out == [_CONV2_KERNEL, _CONV2_KERNEL]
        cnn_out = 2 * cnn_channels * math.prod(side - _CONV2_KERNEL + 1 for side in conv1_out)
        self.encoder = nn.Sequential(
            nn.Linear(cnn_out + len(self_names) + num_actions + len(ORIENTATION_NAMES) + features, hidden_size),
            nn.ReLU(),
        )
        self.lstm = nn.LSTMCell(hidden_size, hidden_size) if lstm else None
        self.actor = nn.Linear(hidden_size, num_actions)
        self.critic = nn.Linear(hidden_size, 1)
        self.hidden_size = hidden_size
        _init(self)
        if action_prior == "per_type":
            with torch.no_grad():
                self.actor.bias.copy_(_per_type_log_prior(num_actions))
        self.to(memory_format=torch.channels_last)

    def initial_state(self, batch: int, device: torch.device | str) -> State:
        if self.lstm is None:
            return None
        zeros = torch.zeros(batch, self.hidden_size, device=device)
        return zeros, zeros.clone()

    def forward(
        self, obs: torch.Tensor, state: State = None, resets: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """obs uint8 `[T, B, obs]` -> logits `[T, B, actions]`, values `[T, B]`, the state after step T."""
        steps, batch = obs.shape[:2]
        hidden = self.encode(obs.reshape(steps * batch, -1))
        if self.lstm is not None:
            hidden, state = self._recur(hidden.view(steps, batch, -1), state, resets)
        logits = self.actor(hidden).view(steps, batch, -1)
        values = self.critic(hidden).view(steps, batch)
        return logits, values, state

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        rows, cols, features = self.window_shape
        # Converted while flat, so the copy is contiguous and the image is channels-last for free.
        window = obs[:, : self.window_size].float().view(-1, rows, cols, features).permute(0, 3, 1, 2)
        # Scaling the first layer's weights instead of the input: a 13-channel multiply per call
        # instead of one per observation byte.
        x = F.relu(F.conv2d(window, self.conv1.weight * self.grid_scale, self.conv1.bias, stride=_CONV1_STRIDE))
        if self.conv2_is_dense:  # channels-last, so the (row, col, channel) flattening is a free view
            weight = self.conv2.weight.permute(0, 2, 3, 1).reshape(self.conv2.out_channels, -1)
            x = F.linear(x.permute(0, 2, 3, 1).reshape(x.shape[0], -1), weight, self.conv2.bias)
        else:
            x = self.conv2(x).flatten(1)
        x = F.relu(x)
        own = obs[:, self.window_size :]
        last_action = F.one_hot(
            own[:, self.last_action_index].long().clamp_(max=self.num_actions - 1), self.num_actions
        )
        own = own.index_select(1, self.self_index).float() * self.self_scale
        cells = obs[:, : self.window_size].view(obs.shape[0], rows * cols, features)
        orientation = (cells[:, (rows // 2) * cols + cols // 2, self.orientation_channel].long() - 1).clamp_(0, 3)
        front = cells[torch.arange(obs.shape[0], device=obs.device), self.neighbour_offsets[orientation]]
        front = front.float() * self.grid_scale.view(1, features)
        heading = F.one_hot(orientation, len(ORIENTATION_NAMES)).float()
        return self.encoder(torch.cat([x, own, last_action.float(), heading, front], dim=1))

    def _recur(self, hidden: torch.Tensor, state: State, resets: Optional[torch.Tensor]):
        h, c = state
        outputs = []
        for t in range(hidden.shape[0]):
            if resets is not None:
                keep = (~resets[t]).unsqueeze(1).float()
                h, c = h * keep, c * keep
            h, c = self.lstm(hidden[t], (h, c))
            outputs.append(h)
        return torch.cat(outputs), (h, c)


def _per_type_log_prior(num_actions: int) -> torch.Tensor:
    """Log-probabilities that give every action type the same share, split among its arguments.

    A uniform first policy over the flat action list spends 9/19 of its steps attacking (nine
    targets) and 2/19 moving; this one spends 1/7 on each type, so random play explores the map.
    """
    if num_actions != NUM_ACTIONS:
        raise ValueError(f"action_prior 'per_type' needs the env's {NUM_ACTIONS} actions, got {num_actions}")
    args_of = Counter(name for name, _ in ACTIONS)
    return torch.tensor([-math.log(len(args_of) * args_of[name]) for name, _ in ACTIONS])


def _init(policy: ConvPolicy) -> None:
    """Orthogonal init (CleanRL's): small actor head for a near-uniform first policy."""
    for module in policy.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(module.weight, gain=2**0.5)
            nn.init.zeros_(module.bias)
    nn.init.orthogonal_(policy.actor.weight, gain=0.01)
    nn.init.orthogonal_(policy.critic.weight, gain=1.0)
