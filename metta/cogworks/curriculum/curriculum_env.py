"""CurriculumEnv: the trainer's batch of environments, each running a curriculum task.

It wraps either rollout backend in the trainer's process, so the run has one curriculum
(one learning-progress state), however many rollout workers step the envs.

Each environment always has its next task queued (`set_env_config`, applied by the env at
its next reset): the batched env resets a finished environment inside the same `step`, so
a task chosen after the step would start one episode late, and a config applied at once
would change rules mid-episode.  When an episode ends the wrapper scores the task that ran
with the episode's return (the mean per-agent return, not the last step's reward), skips
desync-shortened first episodes, computes task-scaled performance when the task has a
positive `reward_target`, appends the completion to the run's stream, and queues another.
With `lp_input: gae` the score also needs the episode's mean GAE advantage, known only after
the trainer's next GAE pass: completions then wait in a per-env queue for
`report_episode_advantages`.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from metta.cogworks.curriculum.completions import CompletionWriter
from metta.cogworks.curriculum.curriculum import Curriculum, Task


class CurriculumEnv:
    def __init__(
        self,
        env: Any,
        curriculum: Curriculum,
        tasks: list[Task],
        writer: Optional[CompletionWriter] = None,
        first_env_id: int = 0,
        agent_steps_per_step: Optional[int] = None,
    ) -> None:
        """`tasks`: the task each env was built with; `agent_steps_per_step`: what one step of this
        batch adds to the run's agent steps (all ranks; default: this batch's agents)."""
        self._env = env
        self.curriculum = curriculum
        self.writer = writer
        self.first_env_id = first_env_id
        self.current = list(tasks)
        self.queued = list(tasks)  # the env was built with these: they are what its reset will run
        self.started = [time.perf_counter()] * len(tasks)
        self.completion_index: dict[int, int] = {}
        self.completion_seconds = 0.0  # wall time spent on finished episodes (the wrapper's own work)
        self.awaiting_advantage: list[list[tuple]] = [[] for _ in tasks]  # per env, oldest first
        self.agent_step = 0
        self.sps = 0.0
        self._per_step = agent_steps_per_step or env.num_agents
        self._infos: list[dict] = []

    def __getattr__(self, name: str) -> Any:  # everything not overridden below: the wrapped env's
        return getattr(self._env, name)

    def reset(self, seed: Optional[int] = None):
        """Fresh episodes of the queued tasks (queued at construction or by the last episode end)."""
        out = self._env.reset(seed)  # applies the queued configs
        self.current = list(self.queued)
        self.queued = [self._queue(e) for e in range(len(self.current))]
        self.started = [time.perf_counter()] * len(self.current)
        return out

    def step(self, actions):
        obs, rewards, terminals, truncations, infos = self._env.step(actions)
        self.agent_step += self._per_step
        if infos:
            self._complete(infos)
        return obs, rewards, terminals, truncations, infos

    def send(self, actions) -> None:
        self._env.send(actions)

    def recv(self):
        out = self._env.recv()
        self.agent_step += self._per_step
        if out[4]:
            self._complete(out[4])
        return out

    def _queue(self, e: int) -> Task:
        task = self.curriculum.get_task()
        self._env.set_env_config(e, task.env_cfg)
        return task

    def _complete(self, infos: list[dict]) -> None:
        now = time.perf_counter()
        self._handle(infos, now)
        self.completion_seconds += time.perf_counter() - now

    def _handle(self, infos: list[dict], now: float) -> None:
        for info in infos:
            e = info["env_id"] - self.first_env_id
            task = self.current[e]
            info["task_id"], info["task_label"] = task.task_id, task.label
            step_time = (now - self.started[e]) / max(info["episode_length"], 1)
            if self.curriculum.needs_advantages:
                self.awaiting_advantage[e].append((task, info, step_time))
            elif not info["desync_episode"]:
                self._score(task, info, step_time)
            self.current[e] = self.queued[e]
            self.queued[e] = self._queue(e)
            self.started[e] = now

    def report_episode_advantages(self, ended: list[tuple[int, float]]) -> None:
        """(env, mean GAE advantage) of each episode that ended, in the order they ended."""
        for e, advantage in ended:
            task, info, step_time = self.awaiting_advantage[e].pop(0)
            if not info["desync_episode"]:
                self._score(task, info, step_time, advantage)

    def _score(self, task: Task, info: dict, step_time: float, mean_advantage: Optional[float] = None) -> None:
        score = info["episode_return"]
        target = task.env_cfg.reward_target
        scaled = min(score / target, 1.0) if target is not None and target > 0 else None
        if scaled is not None:
            info["task_scaled_performance"] = {task.task_id: scaled}
        self.curriculum.complete_task(task.task_id, score, scaled, step_time, mean_advantage)
        if self.writer is not None:
            index = self.completion_index.get(task.task_id, 0)
            self.completion_index[task.task_id] = index + 1
            self.writer.add(
                {
                    "task_id": task.task_id,
                    "task_label": task.label,
                    "completion_index": index,
                    "episode_return": score,
                    "task_scaled_performance": float("nan") if scaled is None else scaled,
                    "agent_step": self.agent_step,
                    "sps": self.sps,
                },
                env_cfg_dump=None if task.task_id in self.writer.tasks else task.env_cfg.model_dump(),
            )

    def state_dict(self) -> dict:
        state = {"curriculum": self.curriculum.state_dict(), "completion_index": dict(self.completion_index)}
        if self.writer is not None:
            state["writer"] = self.writer.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restores the curriculum; the envs' current tasks are redrawn from it at reset."""
        self.curriculum.load_state_dict(state["curriculum"])
        self.completion_index = dict(state["completion_index"])
        if self.writer is not None and "writer" in state:
            self.writer.load_state_dict(state["writer"])
        self.queued = [self._queue(e) for e in range(len(self.current))]
