"""The arena_easy_shaped learning proof: train seeds, then plot heart.gained and tabulate the
samples, minutes and dollars each seed took to 2 and 5 hearts per agent per episode.

    python experiments/recipes/arena_easy_shaped.py                 # seeds 0 1 2, one after another
    python experiments/recipes/arena_easy_shaped.py --seeds 3 --parallel trainer.total_timesteps=100000000

Each seed is `python -m metta.train +experiment=arena_easy_shaped +performance_thresholds=arena
seed=S` (configs/experiment/arena_easy_shaped.yaml: run `arena_easy_shaped.seedS`, 50M agent
steps), so re-running resumes unfinished seeds and finished ones return at once.  `--parallel`
starts the seeds together with one torch thread each. On 2 cores that trains more in total
(two such runs made ~40k agent-steps/s each, one run alone 50-69k), but each seed's minutes
then count shared time; one after another, the tracker's minutes are the machine's own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def commands(seeds: list[int], overrides: list[str]) -> list[list[str]]:
    base = [sys.executable, "-m", "metta.train", "+experiment=arena_easy_shaped", "+performance_thresholds=arena"]
    return [[*base, f"seed={seed}", *overrides] for seed in seeds]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides for every seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--parallel", action="store_true", help="train the seeds at the same time")
    parser.add_argument("--train-dir", default="train_dir")
    parser.add_argument("--out", default="train_dir/arena_easy_shaped_hearts.png", help="the plot (table beside it)")
    args = parser.parse_args(argv)

    cmds = commands(args.seeds, [f"train_dir={args.train_dir}", *args.overrides])
    if args.parallel:
        one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}  # two torch thread pools per core slow both ~10x
        procs = [subprocess.Popen(cmd, cwd=ROOT, env=one_thread) for cmd in cmds]
        codes = [proc.wait() for proc in procs]
    else:
        codes = [subprocess.call(cmd, cwd=ROOT) for cmd in cmds]
    failed = [seed for seed, code in zip(args.seeds, codes) if code != 0]
    if failed:
        print(f"seeds {failed} did not finish (exit codes {codes}); re-run to resume them", file=sys.stderr)
    runs = [str(Path(args.train_dir) / f"arena_easy_shaped.seed{seed}") for seed in args.seeds]
    subprocess.check_call(
        [sys.executable, "-m", "metta.analysis.learning_curves", *runs, "--out", args.out], cwd=ROOT
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
