"""Episode statistics per epoch: means over the full episodes that ended."""

from metta.mettagrid import MettaGridEnv, make_arena_easy_shaped
from metta.rl.stats import EpisodeStats


def test_desync_first_episodes_are_left_out_of_the_epoch_means():
    cfg = make_arena_easy_shaped()
    cfg.desync_episodes = True
    cfg.game.max_steps = 40
    env = MettaGridEnv(cfg, num_envs=4, seed=2)
    env.reset(2)
    infos = []
    for _ in range(80):
        infos += env.step(env.actions * 0 + 1)[4]  # everyone keeps moving forward
    cut, full = [i for i in infos if i["desync_episode"]], [i for i in infos if not i["desync_episode"]]
    assert len(cut) == 4 and full and all(i["episode_length"] == 40 for i in full)
    stats = EpisodeStats()
    stats.add(infos)
    means = stats.pop()
    assert means["overview/episodes"] == len(full)
    assert means["overview/episode_length"] == 40
    assert means["env_agent/action.move.success"] == sum(i["env_agent/action.move.success"] for i in full) / len(full)
