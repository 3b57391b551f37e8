"""Task generators: ids are seeds, buckets draw from lists and ranges, spec YAML forms load."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from metta.cogworks.curriculum import BucketedTaskGenerator, Curriculum, TaskGeneratorSet, ValueRange
from metta.cogworks.curriculum.task_generator import SingleTaskGenerator
from metta.mettagrid import make_arena, make_arena_easy_shaped

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
REWARD = "game.agent.rewards.inventory"


def test_same_id_same_config_and_ids_differ():
    gen = BucketedTaskGenerator(
        env=make_arena_easy_shaped(),
        buckets={f"{REWARD}.ore_red": [0, 0.5, 1], "game.max_steps": ValueRange(range_min=100, range_max=900)},
    )
    assert gen.get_task(7) == gen.get_task(7)
    configs = [gen.get_task(i) for i in range(40)]
    assert len({c.game.max_steps for c in configs}) > 20
    assert {c.game.agent.rewards.inventory.ore_red for c in configs} == {0, 0.5, 1}
    assert all(isinstance(c.game.max_steps, int) and 100 <= c.game.max_steps <= 900 for c in configs)
    assert "ore_red=" in configs[0].label and "max_steps=" in configs[0].label


def test_float_ranges_are_continuous_and_reward_targets_are_set():
    gen = BucketedTaskGenerator(
        env=make_arena_easy_shaped(), reward_target_bucket=[{"range_min": 5.0, "range_max": 25.0}]
    )
    targets = [gen.get_task(i).reward_target for i in range(50)]
    assert all(5.0 <= t <= 25.0 for t in targets) and len(set(targets)) == 50
    fixed = BucketedTaskGenerator(env=make_arena_easy_shaped(), reward_target=10.0)
    assert fixed.get_task(3).reward_target == 10.0
    listed = BucketedTaskGenerator(env=make_arena_easy_shaped(), reward_target_bucket=[5.0, 10.0])
    assert {listed.get_task(i).reward_target for i in range(30)} == {5.0, 10.0}


def test_a_bucket_path_not_in_the_env_fails_naming_it():
    with pytest.raises(ValueError, match=r"bucket path 'game.agent.rewards.inventory.ore_redd' is not in the env"):
        BucketedTaskGenerator(env=make_arena(), buckets={f"{REWARD}.ore_redd": [1]})


def test_the_spec_yaml_forms_load_as_written():
    spec = OmegaConf.create(
        """
        _target_: metta.cogworks.curriculum.BucketedTaskGenerator
        env_cfg_template_path: /env/mettagrid/arena/basic_easy_shaped
        reward_target_bucket:
          - range_min: 5.0
            range_max: 25.0
        buckets:
          game.agent.rewards.inventory.ore_red: [0, 0.5, 1]
          game.agent.rewards.inventory.battery_red: [0, 0.5, 1]
          game.agent.rewards.inventory.heart: [0, 0.5, 1]
        env_overrides:
          game:
            num_agents: 24
            max_steps: 1000
        """
    )
    gen = instantiate(spec, _convert_="all")
    task = gen.get_task(1)
    assert task.game.max_steps == 1000 and 5.0 <= task.reward_target <= 25.0
    assert task.game.map_builder.objects["block"] == 20  # the easy shaped template
    fixed = instantiate(OmegaConf.create({"_target_": "metta.cogworks.curriculum.BucketedTaskGenerator",
                                          "env_cfg_template_path": "/env/mettagrid/arena/basic", "reward_target": 10.0}))  # fmt: skip
    assert fixed.get_task(0).reward_target == 10.0


def test_weighted_set_picks_generators_by_weight_deterministically():
    a = SingleTaskGenerator(make_arena_easy_shaped())
    b = SingleTaskGenerator(make_arena())
    gen = TaskGeneratorSet([a, b], weights=[3, 1])
    labels = [gen.get_task(i).label for i in range(400)]
    assert labels == [gen.get_task(i).label for i in range(400)]
    assert 0.65 < labels.count("arena/basic_easy_shaped") / 400 < 0.85


@pytest.mark.parametrize("name", ["single", "bucketed", "learning_progress"])
def test_hydra_curriculum_group(name):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base=None):
        cfg = compose("train", overrides=[f"curriculum={name}"])
    curriculum = instantiate(cfg.curriculum, _convert_="all")
    assert isinstance(curriculum, Curriculum)
    task = curriculum.get_task()
    assert task.env_cfg.game.num_agents == 24
    assert (curriculum.algorithm is not None) == (name == "learning_progress")
