"""`python -m metta.train [overrides]`: compose -> validate and build -> Trainer.run().

Everything is built before the first step, so a bad value (a misspelt key, a negative
learning rate, a minibatch that does not divide the batch, more workers than envs...) stops
the run with one line naming the field, and nothing is written but Hydra's own log.
"""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pydantic import ValidationError

from metta.mettagrid import EnvConfig
from metta.mettagrid.params import geometry, window_shape
from metta.rl import distributed
from metta.rl.config import TrainerConfig
from metta.rl.trainer import CheckpointMismatch, Trainer, TrainingDiverged

log = logging.getLogger("metta.train")


class ConfigError(ValueError):
    """A config value the run cannot start with; the message names the field."""


@dataclass
class Run:
    trainer: Trainer
    world: distributed.World


def build(cfg: DictConfig, run_dir: Path, run_name: str) -> Run:
    world = distributed.launched_world()
    trainer_cfg = _validated(TrainerConfig, cfg.trainer, "trainer")
    env_cfg: EnvConfig = _instantiate(cfg.env, "env")
    curriculum = _instantiate(cfg.curriculum, "curriculum")
    policy_cfg = OmegaConf.to_container(cfg.policy, resolve=True)
    try:
        trainer_cfg.check_layout(env_cfg.game.num_agents, bool(policy_cfg.get("lstm")))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    try:
        device = distributed.resolve_device(str(cfg.device), world)
    except RuntimeError as e:
        raise ConfigError(f"device: {e}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device: {cfg.device!r} asked for CUDA, but torch sees no GPU")
    policy = _call(_instantiate(cfg.policy, "policy"), "policy", window_shape=window_shape(geometry(env_cfg.game)))
    optimizer_factory = _instantiate(OmegaConf.create(trainer_cfg.optimizer), "trainer.optimizer")
    _call(optimizer_factory, "trainer.optimizer", params=[torch.nn.Parameter(torch.zeros(1))])  # fail now, not later
    logger = _instantiate(cfg.wandb, "wandb")
    tracker = None
    if "performance_thresholds" in cfg:
        choice = HydraConfig.get().runtime.choices.get("performance_thresholds")
        source = f"configs/performance_thresholds/{choice}.yaml"
        tracker = _instantiate(cfg.performance_thresholds, "performance_thresholds", source)

    distributed.init(world, device)
    torch.manual_seed(cfg.seed * 1000 + world.rank)
    if world.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    trainer = Trainer(
        trainer_cfg,
        env_cfg,
        curriculum,
        policy,
        optimizer_factory,
        logger,
        run_dir=run_dir,
        run_name=run_name,
        seed=int(cfg.seed),
        device=device,
        world=world,
        config_record=OmegaConf.to_container(cfg, resolve=True),
        tracker=tracker,
    )
    return Run(trainer, world)


@hydra.main(version_base=None, config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    run_name = str(run_dir.relative_to(Path(cfg.train_dir).resolve())) if run_dir.is_absolute() else str(run_dir)
    world = distributed.launched_world()
    if world.distributed and not any(o.startswith("run=") for o in hydra_cfg.overrides.task):
        _fail("run: under torchrun every rank must be given the same run=<name> (each would generate its own)")
    try:
        run = build(cfg, run_dir, run_name)
    except (ConfigError, CheckpointMismatch) as e:  # a mismatch: the config does not fit the run it names
        _fail(str(e))
    _stop_on_signals(run.trainer)
    try:
        run.trainer.run()
    except TrainingDiverged as e:
        log.error("%s", e)
        print(f"training stopped: {e}", file=sys.stderr)
        sys.exit(3)
    finally:
        distributed.shutdown(run.world)
    if run.trainer.stop_requested:
        log.warning("stopped at epoch %d, checkpoint saved; re-run with run=%s to resume", run.trainer.epoch, run_name)
        sys.exit(130)


def _stop_on_signals(trainer: Trainer) -> None:
    """Ctrl-C or SIGTERM (preemption: SkyPilot, Kubernetes) finishes the epoch, checkpoints and
    exits; a second Ctrl-C stops at once."""

    def stop(signum, frame) -> None:
        trainer.stop_requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _fail(message: str) -> None:
    log.error("config error: %s", message)
    print(f"config error: {message}", file=sys.stderr)
    sys.exit(2)


def _validated(model, node: DictConfig, where: str):
    try:
        return model.model_validate(OmegaConf.to_container(node, resolve=True))
    except ValidationError as e:
        raise ConfigError(_describe(e, where)) from None


def _instantiate(node: DictConfig, where: str, source: str = "") -> Any:
    """`where`: the node's config path; `source`: the file it came from, when that helps."""
    prefix = f"{source}: " if source else ""
    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as e:
        cause = e.__cause__
        if isinstance(cause, ValidationError):
            raise ConfigError(prefix + _describe(cause, where)) from None
        raise ConfigError(f"{prefix}{where}: {cause or e}") from None


def _call(factory, where: str, **kwargs) -> Any:
    try:
        return factory(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def _describe(error: ValidationError, where: str) -> str:
    """One line per problem: `trainer.minibatch_size: <what is wrong> (got <value>)`."""
    lines = []
    for err in error.errors():
        path = ".".join([where, *(str(p) for p in err["loc"])])
        message = err["msg"].removeprefix("Value error, ")
        got = "" if err["type"] in ("missing", "value_error") else f" (got {err['input']!r})"
        lines.append(f"{path}: {message}{got}")
    return "; ".join(lines)


if __name__ == "__main__":
    main()
