"""Curricula: task generators, the learning-progress curriculum, and the env wrapper that runs them."""

from metta.cogworks.curriculum.completions import CompletionWriter, read_completions
from metta.cogworks.curriculum.curriculum import Curriculum, Task
from metta.cogworks.curriculum.curriculum_env import CurriculumEnv
from metta.cogworks.curriculum.learning_progress import LearningProgress, LearningProgressConfig
from metta.cogworks.curriculum.task_generator import (
    BucketedTaskGenerator,
    SingleTaskGenerator,
    TaskGenerator,
    TaskGeneratorSet,
    ValueRange,
)

__all__ = [
    "BucketedTaskGenerator", "CompletionWriter", "Curriculum", "CurriculumEnv", "LearningProgress",
    "LearningProgressConfig", "SingleTaskGenerator", "Task", "TaskGenerator", "TaskGeneratorSet", "ValueRange",
    "read_completions",
]  # fmt: skip
