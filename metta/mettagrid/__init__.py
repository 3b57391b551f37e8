"""MettaGrid: the converter-era multi-agent grid world (mines -> generators -> altars -> hearts)."""

from metta.mettagrid.builders import make_arena, make_arena_easy_shaped
from metta.mettagrid.config import EnvConfig, GameConfig
from metta.mettagrid.env import MettaGridEnv

__all__ = ["EnvConfig", "GameConfig", "MettaGridEnv", "make_arena", "make_arena_easy_shaped"]
