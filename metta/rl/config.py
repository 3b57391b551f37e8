"""TrainerConfig: every trainer hyperparameter, declared once, typed, with a one-line doc.

`configs/trainer/ppo.yaml` sets the defaults a run starts from; this model validates them
(`extra="forbid"`) so a misspelt key or an impossible value fails before training starts and
the message names the field.  PPO defaults start from Metta's converter-era arena trainer
(clip 0.1, value 0.44, grad norm 0.5, lr 4.57e-4), with the batch scaled to one 2-core machine
(16 arenas x 24 agents x 64 steps), and four changes measured on arena_easy_shaped within a
50M-agent-step budget (docs/performance.md): 2 update epochs of 2,048-sample minibatches
(Metta: 1 epoch of 4,096), entropy 0.01 (0.0021), gamma 0.99 (0.977), GAE lambda 0.95 (0.916).
With Metta's values the agents learn to take one ore and never feed a generator.  The 24
gradient steps per batch are what learning needs; 2 x 2,048 gives them for half the learner
time of 4 x 4,096, which needed ~13% fewer samples to 2 hearts but ~1.5x the minutes here.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    total_timesteps: int = Field(100_000_000, gt=0, description="agent steps to train for, summed over all ranks")
    num_envs: int = Field(16, ge=1, description="environments per rank (each holds env.game.num_agents agents)")
    vectorization: Literal["serial", "multiprocessing"] = Field(
        "serial", description="step the envs in this process, or in rollout_workers shared-memory workers"
    )
    rollout_workers: Optional[int] = Field(
        None, ge=1, description="multiprocessing workers; null: (cpu_count // 2) // max(gpus, 1)"
    )
    batch_size: int = Field(24_576, gt=0, description="agent steps collected per epoch on each rank")
    minibatch_size: int = Field(2_048, gt=0, description="agent steps per gradient step; divides batch_size")
    bptt_horizon: int = Field(64, gt=0, description="LSTM training segment length in steps")
    update_epochs: int = Field(2, ge=1, description="passes over each batch")

    gamma: float = Field(0.99, ge=0, le=1, description="discount factor")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    clip_coef: float = Field(0.1, gt=0, description="PPO ratio clip")
    vf_clip_coef: float = Field(0.1, ge=0, description="value clip around the rollout value (0: no value clipping)")
    vf_coef: float = Field(0.44, ge=0, description="value loss weight")
    ent_coef: float = Field(0.01, ge=0, description="entropy bonus weight")
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient norm clip")
    norm_adv: bool = Field(True, description="normalize advantages per minibatch")
    target_kl: Optional[float] = Field(None, gt=0, description="stop the epoch's updates once approx KL exceeds this")
    anneal_lr: bool = Field(False, description="decay the learning rate linearly to 0 at total_timesteps")
    optimizer: dict[str, Any] = Field(description="Hydra node: _target_ an optimizer class, _partial_: true")

    checkpoint_interval: int = Field(50, ge=1, description="epochs between checkpoints")
    checkpoint_interval_s: Optional[float] = Field(None, gt=0, description="also checkpoint after this many seconds")
    keep_checkpoints: int = Field(3, ge=2, description="checkpoints kept on disk (>= 2: a corrupt one has a fallback)")
    evaluate_interval: int = Field(100, ge=0, description="epochs between evaluations (0: never)")
    eval_episodes: int = Field(2, ge=1, description="deterministic episodes per evaluation, one env each")
    compile: bool = Field(False, description="torch.compile the policy")
    progress_interval_s: float = Field(10.0, ge=0, description="seconds between progress lines (0: every epoch)")
    sps_drop_warning: float = Field(
        0.2, ge=0, lt=1, description="warn when SPS stays this fraction below the early-run median (0: never)"
    )
    sps_drop_epochs: int = Field(10, ge=1, description="consecutive slow epochs before that warning")
    sps_baseline_epochs: int = Field(20, ge=1, description="epochs (after two warm-up ones) whose median SPS is the reference")

    @model_validator(mode="after")
    def _consistent(self) -> "TrainerConfig":
        if self.batch_size % self.minibatch_size:
            raise ValueError(f"minibatch_size ({self.minibatch_size}) must divide batch_size ({self.batch_size})")
        if self.evaluate_interval and self.evaluate_interval < self.checkpoint_interval:
            raise ValueError(
                f"evaluate_interval ({self.evaluate_interval}) must be >= checkpoint_interval "
                f"({self.checkpoint_interval}), or 0 to turn evaluation off"
            )
        if "_target_" not in self.optimizer:
            raise ValueError("optimizer needs a _target_ (e.g. torch.optim.Adam) and _partial_: true")
        return self

    def check_layout(self, agents_per_env: int, lstm: bool, gpus: int = 0) -> None:
        """Checks that need the env and policy: the batch must tile the rollout exactly."""
        agents = self.num_envs * agents_per_env
        if self.batch_size % agents:
            raise ValueError(
                f"trainer.batch_size ({self.batch_size}) must be a multiple of the agents stepped per rank "
                f"(trainer.num_envs {self.num_envs} x env.game.num_agents {agents_per_env} = {agents})"
            )
        if lstm:
            steps = self.batch_size // agents
            if steps % self.bptt_horizon or self.minibatch_size % self.bptt_horizon:
                raise ValueError(
                    f"with an LSTM, trainer.bptt_horizon ({self.bptt_horizon}) must divide the rollout length "
                    f"({steps} steps) and trainer.minibatch_size ({self.minibatch_size})"
                )
        if self.vectorization == "multiprocessing" and self.workers(gpus) > self.num_envs:
            raise ValueError(
                f"trainer.rollout_workers ({self.workers(gpus)}) must be <= trainer.num_envs ({self.num_envs})"
            )

    def workers(self, gpus: int = 0) -> int:
        from metta.rl.vecenv import default_num_workers

        if self.rollout_workers is not None:
            return self.rollout_workers
        return min(default_num_workers(gpus=gpus), self.num_envs)
