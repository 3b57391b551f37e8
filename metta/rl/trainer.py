"""The PPO trainer: rollout -> advantages -> update -> stats, one epoch at a time.

An epoch steps every environment of this rank `batch_size / agents` times, then runs
`update_epochs` passes of minibatch updates over what it collected.  `agent_step` counts
agent steps over all ranks.  Rank 0 logs and checkpoints; under torchrun the policy is
wrapped in DistributedDataParallel, which averages gradients across ranks.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from metta.cogworks.curriculum import CompletionWriter, Curriculum, CurriculumEnv
from metta.eval.performance_threshold_tracker import PerformanceThresholdTracker
from metta.mettagrid import EnvConfig, MettaGridEnv
from metta.mettagrid.layout import STAT_NAMES, observation_size
from metta.rl import distributed
from metta.rl.advantage import compute_gae
from metta.rl.checkpoint import CheckpointStore
from metta.rl.config import TrainerConfig
from metta.rl.distributed import World
from metta.rl.evaluate import evaluate
from metta.rl.experience import Experience
from metta.rl.logger import STEP_KEY, MetricsFile, WandbLogger
from metta.rl.ppo import LOSS_PARTS, ppo_loss, sample_actions
from metta.rl.stats import EpisodeStats, LossStats, PhaseTimer, SlowdownWatch
from metta.rl.vecenv import MultiprocessVecEnv

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss or its gradient stopped being finite."""


class CheckpointMismatch(RuntimeError):
    """The run directory's checkpoint was written for another policy or optimizer."""


class Trainer:
    def __init__(
        self,
        cfg: TrainerConfig,
        env_cfg: EnvConfig,
        curriculum: Curriculum,
        policy: torch.nn.Module,
        optimizer_factory: Callable[..., torch.optim.Optimizer],
        logger: WandbLogger,
        run_dir: Path,
        run_name: str,
        seed: int,
        device: torch.device,
        world: World = World(),
        config_record: Optional[dict[str, Any]] = None,
        tracker: Optional[PerformanceThresholdTracker] = None,
    ) -> None:
        self.cfg, self.env_cfg, self.curriculum = cfg, env_cfg, curriculum
        self.run_dir, self.run_name, self.seed = Path(run_dir), run_name, seed
        self.device, self.world = device, world
        self.logger, self.config_record = logger, config_record or {}
        self.tracker = tracker
        if tracker is not None and world.is_main:
            tracker.check_metrics(self.metric_names())
        game = env_cfg.game
        self.agents = cfg.num_envs * game.num_agents
        self.steps_per_epoch = cfg.batch_size // self.agents

        self.policy = policy.to(device)
        self.optimizer = optimizer_factory(self.policy.parameters())
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.checkpoints = CheckpointStore(self.run_dir / "checkpoints", keep=cfg.keep_checkpoints)
        self.metrics = MetricsFile(self.run_dir / "metrics.jsonl")
        self.agent_step, self.epoch, self.total_time = 0, 0, 0.0
        self._saved_epoch = 0
        self.stop_requested = False  # set from a signal handler; honoured between epochs
        self.sample_rng = torch.Generator(device=device).manual_seed(seed * 7919 + world.rank)
        self.minibatch_rng = torch.Generator().manual_seed(seed * 104_729 + world.rank)
        self.env = self._make_env()
        self._resume()
        self.learner = (
            DistributedDataParallel(self.policy, broadcast_buffers=False) if world.distributed else self.policy
        )
        if cfg.compile:
            self.learner = torch.compile(self.learner)

        state_size = self.policy.hidden_size if self.policy.lstm is not None else 0
        self.experience = Experience(
            self.steps_per_epoch,
            self.agents,
            observation_size(game.obs_height, game.obs_width),
            device,
            segment=cfg.bptt_horizon if state_size else 1,
            state_size=state_size,
        )
        self.timer = PhaseTimer()
        self.slowdown = SlowdownWatch(cfg.sps_drop_warning, cfg.sps_drop_epochs, cfg.sps_baseline_epochs)
        self.episode_stats, self.loss_stats = EpisodeStats(), LossStats()
        self.latest: dict[str, float] = {}
        self.episode_advantage_sum = torch.zeros(cfg.num_envs, dtype=torch.float64)  # lp_input: gae
        self.episode_steps = torch.zeros(cfg.num_envs, dtype=torch.int64)

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        """Train to total_timesteps (or until `stop_requested`, checked between epochs), with
        checkpoints, evaluations, logs and progress lines; a final checkpoint either way."""
        self.start()
        try:
            while self.agent_step < self.cfg.total_timesteps and not self._should_stop():
                self.step()
            self._save_checkpoint()
            self._summarize()
        finally:
            self.close()
        if not distributed.parameters_in_sync(self.policy, self.world):
            raise RuntimeError("ranks finished with different parameters: DistributedDataParallel lost sync")
        if self.world.is_main:
            log.info("%s: %d agent steps in %d epochs, %.0f s\n%s", "stopped" if self.stop_requested else "done",
                     self.agent_step, self.epoch, self.total_time, self.timer.summary())  # fmt: skip

    def _should_stop(self) -> bool:
        """A stop asked of any rank stops all of them at the same epoch."""
        if not self.world.distributed:
            return self.stop_requested
        flag = torch.tensor(float(self.stop_requested), device=self.device)
        self.stop_requested = bool(distributed.mean(flag, self.world) > 0)
        return self.stop_requested

    def step(self) -> dict[str, Any]:
        """One epoch and what is due after it: checkpoint, evaluation, thresholds, logs, progress."""
        row = self.train_epoch()
        if self._checkpoint_due():
            self._save_checkpoint()
        if self.cfg.evaluate_interval and self.epoch % self.cfg.evaluate_interval == 0:
            row.update(self._evaluate())
        if self.tracker is not None:
            self.tracker.update(row, self.agent_step, self.total_time)
            row.update(self.tracker.get_wandb_metrics())
        self._log(row)
        if time.time() - self._last_progress >= self.cfg.progress_interval_s:
            self._progress(row)
            self._last_progress = time.time()
        return row

    def start(self) -> None:
        self._last_checkpoint, self._last_progress = time.time(), 0.0
        if self.world.is_main:
            self.logger.start(self.run_name, self.run_dir, self.config_record)
        self.env.agent_step = self.agent_step
        observations, _ = self.env.reset(self.seed + self.epoch)  # a resumed run meets new maps
        self.next_obs = torch.from_numpy(observations)
        self.next_reset = torch.ones(self.agents, dtype=torch.bool, device=self.device)
        self.state = self.policy.initial_state(self.agents, self.device)

    def train_epoch(self) -> dict[str, Any]:
        """One rollout and its update; returns the epoch's metrics row."""
        epoch_start = time.perf_counter()
        self.curriculum.agent_step = self.agent_step
        self._anneal_lr()
        self._rollout()
        self._update()
        self.epoch += 1
        self.agent_step += self.cfg.batch_size * self.world.size
        epoch_time = time.perf_counter() - epoch_start
        self.total_time += epoch_time
        with self.timer("stats"):
            return self._epoch_stats(epoch_time)

    def metric_names(self) -> list[str]:
        """Every metric an epoch row can hold (for checking what thresholds watch)."""
        episode = [*(f"env_agent/{name}" for name in STAT_NAMES), "overview/reward", "overview/episode_length"]
        losses = [f"losses/{name}" for name in (*LOSS_PARTS, "grad_norm")]
        evals = ["eval/" + name.split("/", 1)[1] for name in episode]
        return [*episode, "overview/sps", "overview/episodes", "overview/learning_rate", *losses, *evals]

    def _summarize(self) -> None:
        """The thresholds' final results: the WandB run summary and performance_thresholds.json."""
        if self.tracker is None or not self.world.is_main:
            return
        results = self.tracker.get_wandb_metrics()
        self.logger.summary(results)
        clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in results.items()}
        (self.run_dir / "performance_thresholds.json").write_text(json.dumps(clean, indent=1))
        for name, r in self.tracker.get_results().items():
            reached = f"reached after {r.samples_to_threshold:.0f} agent steps, {r.minutes_to_threshold:.1f} min, " \
                      f"${r.cost_to_threshold:.2f}" if r.achieved else "not reached"  # fmt: skip
            log.info("threshold %s: %s (smoothed %.3g)", name, reached, r.final_smoothed_value)

    def close(self) -> None:
        self.env.close()
        if self.env.writer is not None and self.env.writer.parts_written:
            # the completion stream travels with the WandB run, for `reward_timeseries pull --wandb-project`
            self.logger.save(str(self.run_dir / "completions" / "*"), self.run_dir)
        self.logger.finish()

    def _rollout(self) -> None:
        """Step the envs `steps_per_epoch` times with the current policy, then compute GAE."""
        exp, cfg = self.experience, self.cfg
        for t in range(self.steps_per_epoch):
            with self.timer("copy"):
                obs = exp.obs[t]
                obs.copy_(self.next_obs, non_blocking=True)
                exp.resets[t] = self.next_reset
            with self.timer("forward"), torch.no_grad():
                exp.store_state(t, self.state)
                logits, values, self.state = self.policy(obs.unsqueeze(0), self.state, self.next_reset.unsqueeze(0))
                actions, logprobs = sample_actions(logits[0], self.sample_rng)
                exp.actions[t], exp.logprobs[t], exp.values[t] = actions, logprobs, values[0]
                actions = actions.cpu().numpy()
            with self.timer("env"):
                observations, rewards, terminals, truncations, infos = self.env.step(actions)
            with self.timer("copy"):
                exp.rewards[t] = torch.from_numpy(rewards)
                done = torch.from_numpy(terminals | truncations).to(self.device)
                exp.dones[t] = done
                self.next_reset = done
                self.next_obs = torch.from_numpy(observations)
            with self.timer("stats"):
                self.episode_stats.add(infos)
        with self.timer("forward"), torch.no_grad():
            obs = self.next_obs.to(self.device).unsqueeze(0)
            _, next_value, _ = self.policy(obs, self.state, self.next_reset.unsqueeze(0))
            compute_gae(exp.rewards, exp.values, exp.dones, next_value[0], cfg.gamma, cfg.gae_lambda, exp.advantages)
            torch.add(exp.advantages, exp.values, out=exp.returns)
        if self.curriculum.needs_advantages:
            with self.timer("stats"):
                self._report_episode_advantages()

    def _report_episode_advantages(self) -> None:
        """Each finished episode's mean GAE advantage (over its agents and steps) to the curriculum."""
        steps, envs = self.steps_per_epoch, self.cfg.num_envs
        advantages = self.experience.advantages.view(steps, envs, -1).mean(2).cpu()
        ends = self.experience.dones.view(steps, envs, -1)[:, :, 0].cpu()
        ended = []
        for t in range(steps):
            self.episode_advantage_sum += advantages[t]
            self.episode_steps += 1
            for e in torch.nonzero(ends[t]).flatten().tolist():
                ended.append((e, float(self.episode_advantage_sum[e] / self.episode_steps[e])))
                self.episode_advantage_sum[e], self.episode_steps[e] = 0.0, 0
        self.env.report_episode_advantages(ended)

    def _update(self) -> None:
        """`update_epochs` passes of clipped-PPO minibatch steps (stopping early past target_kl)."""
        cfg = self.cfg
        with self.timer("learn"):
            for _ in range(cfg.update_epochs):
                for mb in self.experience.minibatches(cfg.minibatch_size, self.minibatch_rng):
                    logits, values, _ = self.learner(mb.obs, mb.state, mb.resets)
                    loss, parts = ppo_loss(logits, values, mb, cfg)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                    if not torch.isfinite(grad_norm):  # identical on every rank: gradients are all-reduced
                        raise TrainingDiverged(
                            f"non-finite loss or gradient at epoch {self.epoch} (loss {loss.item():.4g}); "
                            f"stopped without saving, the last good checkpoint is {self._latest_checkpoint()}"
                        )
                    self.optimizer.step()
                    self.loss_stats.add({**parts, "grad_norm": grad_norm})
                    if cfg.target_kl is not None and distributed.mean(parts["approx_kl"], self.world) > cfg.target_kl:
                        return

    # -- bookkeeping ------------------------------------------------------------------
    def _anneal_lr(self) -> None:
        if self.cfg.anneal_lr:
            remaining = max(0.0, 1.0 - self.agent_step / self.cfg.total_timesteps)
            for group, base in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = base * remaining

    def _epoch_stats(self, epoch_time: float) -> dict[str, float]:
        row: dict[str, Any] = {
            STEP_KEY: self.agent_step,
            "metric/epoch": self.epoch,
            "metric/total_time": self.total_time,
        }
        row["overview/sps"] = self.cfg.batch_size * self.world.size / epoch_time
        row["overview/learning_rate"] = self.optimizer.param_groups[0]["lr"]
        self.env.sps = row["overview/sps"]
        row.update(self.episode_stats.pop())
        row.update(self.curriculum.stats())
        row.update(self.loss_stats.pop())
        row.update(self.timer.pop())
        warning = self.slowdown.update(row)
        if warning and self.world.is_main:
            log.warning("%s", warning)
        self.latest.update({k: v for k, v in row.items() if k.startswith(("env_agent/", "overview/reward"))})
        return row

    def _log(self, row: dict[str, Any]) -> None:
        if self.world.is_main:
            self.metrics.log(row)
            self.logger.log(row)

    def _progress(self, row: dict[str, Any]) -> None:
        if not self.world.is_main:
            return
        sps = row["overview/sps"]
        total = self.cfg.total_timesteps
        eta = max(0, total - self.agent_step) / max(sps, 1e-9)  # the last epoch may overshoot the total
        hearts = self.latest.get("env_agent/heart.gained", float("nan"))
        reward = self.latest.get("overview/reward", float("nan"))
        log.info(
            "epoch %d | %s / %s agent steps (%.1f%%) | %s SPS | heart.gained %.2f | reward %.2f | ETA %s",
            self.epoch, _si(self.agent_step), _si(total), min(100.0, 100 * self.agent_step / total), _si(sps),
            hearts, reward, _duration(eta),
        )  # fmt: skip

    def _evaluate(self) -> dict[str, float]:
        if not self.world.is_main:
            return {}
        with self.timer("eval"):
            return evaluate(self.policy, self.env_cfg, self.cfg.eval_episodes, self.seed, self.device)

    # -- checkpoints ------------------------------------------------------------------
    def _checkpoint_due(self) -> bool:
        every_s = self.cfg.checkpoint_interval_s
        return self.epoch % self.cfg.checkpoint_interval == 0 or (
            every_s is not None and time.time() - self._last_checkpoint >= every_s
        )

    def _save_checkpoint(self) -> None:
        self._last_checkpoint = time.time()
        if not self.world.is_main or self.epoch == self._saved_epoch:
            return
        with self.timer("checkpoint"):
            self._write_checkpoint()

    def _write_checkpoint(self) -> None:
        state = {
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "agent_step": self.agent_step,
            "epoch": self.epoch,
            "total_time": self.total_time,
            "rng": {
                "torch": torch.get_rng_state(),
                "sample": self.sample_rng.get_state(),
                "minibatch": self.minibatch_rng.get_state(),
                "numpy": np.random.get_state(),
            },
        }
        if self.env.writer is not None:
            self.env.writer.flush()  # before the state records how many parts it wrote
        state["curriculum_env"] = self.env.state_dict()
        if self.tracker is not None:
            state["tracker"] = self.tracker.state_dict()
        path = self.checkpoints.save(state, self.epoch)
        self._saved_epoch = self.epoch
        log.debug("checkpoint %s", path)

    def _latest_checkpoint(self) -> str:
        paths = self.checkpoints.paths()
        return str(paths[-1]) if paths else "none (no checkpoint was written yet)"

    def _resume(self) -> None:
        """Continue from the newest readable checkpoint of this run directory, if any."""
        found = self.checkpoints.load_latest(map_location="cpu") if self.world.is_main else None
        found = distributed.broadcast(found, self.world)
        if found is None:
            return
        state, path = found
        try:
            self.policy.load_state_dict(state["policy"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise CheckpointMismatch(
                f"checkpoint {path} does not fit this policy/optimizer (was the run started with another "
                f"policy config?): {e}"
            ) from None
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base  # the config's learning rate wins over the one saved (anneal_lr rescales it)
        self.agent_step, self.epoch, self.total_time = state["agent_step"], state["epoch"], state["total_time"]
        self._saved_epoch = self.epoch
        torch.set_rng_state(state["rng"]["torch"])
        self.sample_rng.set_state(state["rng"]["sample"].to(self.sample_rng.device))
        self.minibatch_rng.set_state(state["rng"]["minibatch"])
        np.random.set_state(state["rng"]["numpy"])
        self.env.load_state_dict(state["curriculum_env"])
        if self.tracker is not None and "tracker" in state:
            self.tracker.load_state_dict(state["tracker"])
        if self.world.is_main:
            self.metrics.rewind(self.epoch)
            log.info("resumed from %s: epoch %d, %d agent steps", path, self.epoch, self.agent_step)

    def _make_env(self) -> CurriculumEnv:
        """This rank's envs, built with tasks drawn from the curriculum, wrapped to keep drawing."""
        first_env = self.world.rank * self.cfg.num_envs
        tasks = [self.curriculum.get_task() for _ in range(self.cfg.num_envs)]
        cfgs = [task.env_cfg for task in tasks]
        if self.cfg.vectorization == "multiprocessing":
            gpus = torch.cuda.device_count() if self.device.type == "cuda" else 0
            env = MultiprocessVecEnv(
                cfgs, self.cfg.num_envs, self.cfg.workers(gpus), seed=self.seed, first_env_id=first_env
            )
        else:
            env = MettaGridEnv(cfgs, num_envs=self.cfg.num_envs, seed=self.seed, first_env_id=first_env)
        writer = CompletionWriter(self.run_dir, self.seed) if self.world.is_main else None
        return CurriculumEnv(env, self.curriculum, tasks, writer, first_env, self.agents * self.world.size)


def _si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.0f}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"
