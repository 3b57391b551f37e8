"""Reward time-series analysis of the per-task completion streams (spec 004)."""
