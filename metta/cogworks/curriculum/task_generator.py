"""Task generators: a task id in, an EnvConfig out, the same config for the same id every time.

The id seeds the generator's random choices (`random.Random(task_id)`), so a curriculum only
has to remember ids, a checkpoint stays small, and a task can be rebuilt anywhere.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from pydantic import BaseModel, ConfigDict, model_validator

from metta.mettagrid import EnvConfig


class ValueRange(BaseModel):
    """A bucket sampled continuously in [range_min, range_max]; ints when both ends are ints."""

    model_config = ConfigDict(extra="forbid")
    range_min: Union[int, float]
    range_max: Union[int, float]

    @model_validator(mode="after")
    def _ordered(self) -> "ValueRange":
        if self.range_min > self.range_max:
            raise ValueError(f"range_min ({self.range_min}) is above range_max ({self.range_max})")
        return self

    def sample(self, rng: random.Random) -> Union[int, float]:
        if isinstance(self.range_min, int) and isinstance(self.range_max, int):
            return rng.randint(self.range_min, self.range_max)
        return rng.uniform(self.range_min, self.range_max)


Bucket = Union[ValueRange, list]


class TaskGenerator:
    def get_task(self, task_id: int) -> EnvConfig:
        raise NotImplementedError


class SingleTaskGenerator(TaskGenerator):
    """Always the same environment (one shared EnvConfig: envs and the trainer only read it)."""

    def __init__(self, env: EnvConfig, reward_target: Optional[float] = None) -> None:
        self.env = _as_env(env)
        if reward_target is not None:
            self.env = self.env.model_copy(update={"reward_target": reward_target})

    def get_task(self, task_id: int) -> EnvConfig:
        return self.env


class TaskGeneratorSet(TaskGenerator):
    """One of several generators per task, chosen by weight."""

    def __init__(self, generators: Sequence[TaskGenerator], weights: Optional[Sequence[float]] = None) -> None:
        if not generators:
            raise ValueError("TaskGeneratorSet needs at least one generator")
        self.generators = list(generators)
        self.weights = list(weights) if weights is not None else [1.0] * len(self.generators)
        if len(self.weights) != len(self.generators) or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"weights must be {len(self.generators)} non-negative numbers, not all 0: {self.weights}")

    def get_task(self, task_id: int) -> EnvConfig:
        rng = random.Random(task_id)
        generator = rng.choices(self.generators, weights=self.weights)[0]
        return generator.get_task(rng.getrandbits(62))


class BucketedTaskGenerator(TaskGenerator):
    """A template env with some values drawn per task from buckets.

    - `env` or `env_cfg_template_path` (a Hydra config path such as
      `/env/mettagrid/arena/basic_easy_shaped`): the template;
    - `env_overrides`: nested values merged into the template first;
    - `buckets`: dotted path -> list of values (one is chosen) or a ValueRange, or a list
      mixing both (`[{range_min: 5, range_max: 25}]`);
    - `reward_target` (fixed) or `reward_target_bucket` (a bucket) set `EnvConfig.reward_target`.
    A bucket path that is not in the env config fails here, naming the path.
    """

    def __init__(
        self,
        env: Optional[EnvConfig] = None,
        env_cfg_template_path: Optional[str] = None,
        buckets: Optional[dict[str, Any]] = None,
        env_overrides: Optional[dict[str, Any]] = None,
        reward_target: Optional[float] = None,
        reward_target_bucket: Optional[Any] = None,
    ) -> None:
        if (env is None) == (env_cfg_template_path is None):
            raise ValueError("BucketedTaskGenerator needs exactly one of env and env_cfg_template_path")
        if reward_target is not None and reward_target_bucket is not None:
            raise ValueError("give reward_target or reward_target_bucket, not both")
        template = _as_env(env) if env is not None else load_env_template(env_cfg_template_path)
        data = template.model_dump()
        if env_overrides:
            _merge(data, env_overrides, "env_overrides")
        self.template = EnvConfig.model_validate(data)
        self.buckets = {path: _bucket(values, path) for path, values in sorted((buckets or {}).items())}
        self.names = _short_names(list(self.buckets))
        base = self.template.model_dump()
        for path in self.buckets:
            _lookup(base, path)  # raises, naming the path
        self.reward_target = reward_target
        self.reward_target_bucket = (
            None if reward_target_bucket is None else _bucket(reward_target_bucket, "reward_target_bucket")
        )

    def get_task(self, task_id: int) -> EnvConfig:
        rng = random.Random(task_id)
        data = self.template.model_dump()
        chosen = []
        for path, bucket in self.buckets.items():
            value = _draw(bucket, rng)
            parent, key = _lookup(data, path)
            parent[key] = value
            chosen.append(f"{self.names[path]}={_short(value)}")
        if self.reward_target_bucket is not None:
            data["reward_target"] = float(_draw(self.reward_target_bucket, rng))
        elif self.reward_target is not None:
            data["reward_target"] = float(self.reward_target)
        if chosen:
            data["label"] = f"{self.template.label}|{','.join(chosen)}"
        return EnvConfig.model_validate(data)


def load_env_template(path: str) -> EnvConfig:
    """An env config from the Hydra config tree, e.g. `/env/mettagrid/arena/basic_easy_shaped`."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.utils import instantiate

    override = f"+env={path.strip('/').removeprefix('env/')}"
    try:
        if GlobalHydra.instance().is_initialized():
            cfg = compose(overrides=[override])
        else:
            with initialize_config_dir(config_dir=str(_CONFIGS), version_base=None):
                cfg = compose(overrides=[override])
    except Exception as e:  # Hydra's MissingConfigException and friends
        raise ValueError(f"env_cfg_template_path {path!r} is not an env config: {e}") from None
    return instantiate(cfg.env, _convert_="all")


_CONFIGS = Path(__file__).resolve().parents[3] / "configs"


def _as_env(env: Any) -> EnvConfig:
    return env if isinstance(env, EnvConfig) else EnvConfig.model_validate(env)


def _bucket(values: Any, where: str) -> Bucket:
    if isinstance(values, ValueRange):
        return values
    if isinstance(values, dict):
        return ValueRange.model_validate(values)
    if isinstance(values, (list, tuple)) and values:
        return [ValueRange.model_validate(v) if isinstance(v, dict) else v for v in values]
    raise ValueError(f"bucket {where!r} must be a non-empty list or a {{range_min, range_max}}, got {values!r}")


def _draw(bucket: Bucket, rng: random.Random) -> Any:
    value = bucket if isinstance(bucket, ValueRange) else rng.choice(bucket)
    return value.sample(rng) if isinstance(value, ValueRange) else value


def _lookup(data: dict, path: str) -> tuple[dict, str]:
    """The dict holding the last key of a dotted path, and that key."""
    node, keys = data, path.split(".")
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            known = sorted(node) if isinstance(node, dict) else []
            raise ValueError(
                f"bucket path {path!r} is not in the env config (no {'.'.join(keys[: depth + 1])!r}; there: {known})"
            )
        if depth < len(keys) - 1:
            node = node[key]
    return node, keys[-1]


def _merge(data: dict, overrides: dict, where: str) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            _merge(data[key], value, f"{where}.{key}")
        else:
            data[key] = value


def _short_names(paths: list[str]) -> dict[str, str]:
    """Each path's shortest dotted suffix that no other path shares (for task labels)."""
    names = {}
    for path in paths:
        parts = path.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            if not any(other != path and (other == suffix or other.endswith("." + suffix)) for other in paths):
                break
        names[path] = suffix
    return names


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
