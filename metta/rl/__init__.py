"""Reinforcement learning: rollout backends (and, next, the PPO trainer)."""
