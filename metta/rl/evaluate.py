"""Evaluation: a few deterministic episodes (fixed seed, greedy actions), as `eval/*`."""

from __future__ import annotations

import torch

from metta.mettagrid import EnvConfig, MettaGridEnv
from metta.rl.stats import EpisodeStats


@torch.no_grad()
def evaluate(policy: torch.nn.Module, env_cfg: EnvConfig, episodes: int, seed: int, device: torch.device) -> dict:
    """One full-length episode in each of `episodes` envs (no desync), all from `seed`."""
    env = MettaGridEnv(env_cfg.model_copy(update={"desync_episodes": False}), num_envs=episodes, seed=seed)
    obs, _ = env.reset(seed)
    state = policy.initial_state(env.num_agents, device)
    stats = EpisodeStats()
    finished: set[int] = set()
    was_training = policy.training
    policy.eval()
    try:
        while len(finished) < episodes:
            logits, _, state = policy(torch.from_numpy(obs).to(device).unsqueeze(0), state)
            obs, _, _, _, infos = env.step(logits[0].argmax(-1).cpu().numpy())
            fresh = [info for info in infos if info["env_id"] not in finished]
            finished.update(info["env_id"] for info in fresh)
            stats.add(fresh)
    finally:
        policy.train(was_training)
    return {"eval/" + key.split("/", 1)[1]: value for key, value in stats.pop().items()}
