#!/usr/bin/env python3
"""Launch `python -m metta.train` on SkyPilot.

    devops/skypilot/launch.py train run=NAME [--nodes N] [--gpus G] [--no-spot] [--dry-run] [overrides...]

Builds the task from devops/skypilot/sk_train.yaml (nodes, GPUs per node, spot, the run
name and the Hydra overrides) and launches it as cluster NAME.  `--dry-run` prints the final
task YAML and needs neither SkyPilot, credentials nor the network.  SkyPilot itself is the
optional extra `cloud`: pip install -e '.[cloud]'.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import yaml

TASK = Path(__file__).resolve().parent / "sk_train.yaml"


def build_task(run: str, overrides: list[str], nodes: int, gpus: int, spot: bool, template: Path = TASK) -> dict:
    task = yaml.safe_load(template.read_text())
    accelerator = str(task["resources"]["accelerators"]).split(":")[0]
    task["name"] = f"metta-{run}"
    task["num_nodes"] = nodes
    task["resources"]["accelerators"] = f"{accelerator}:{gpus}"
    task["resources"]["use_spot"] = spot
    task["envs"]["METTA_RUN"] = run
    task["envs"]["METTA_OVERRIDES"] = shlex.join(overrides)
    return task


def _literal_blocks(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    """Multi-line strings (the setup and run scripts) print as `|` blocks, as in the template."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


yaml.add_representer(str, _literal_blocks, Dumper=yaml.SafeDumper)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launch.py", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["train"])
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--gpus", type=int, default=1, help="GPUs per node")
    parser.add_argument("--no-spot", action="store_true", help="on-demand instances")
    parser.add_argument("--dry-run", action="store_true", help="print the task YAML, launch nothing")
    args, rest = parser.parse_known_args(argv)
    unknown = [a for a in rest if a.startswith("--")]
    if unknown:
        parser.error(f"unknown options {unknown} (Hydra overrides look like key=value)")
    runs = [a for a in rest if a.startswith("run=")]
    if len(runs) != 1 or not runs[0][4:]:
        parser.error("give the run its name exactly once: run=NAME (it names the cluster and train_dir/NAME)")
    if args.nodes < 1 or args.gpus < 1:
        parser.error(f"--nodes and --gpus must be >= 1, got {args.nodes} and {args.gpus}")
    run = runs[0][4:]
    overrides = [a for a in rest if not a.startswith("run=")]
    task = build_task(run, overrides, args.nodes, args.gpus, spot=not args.no_spot)
    if args.dry_run:
        print(yaml.safe_dump(task, sort_keys=False), end="")
        return 0
    try:
        import sky
    except ImportError:
        print("SkyPilot is not installed: pip install -e '.[cloud]' (or use --dry-run)", file=sys.stderr)
        return 2
    sky.launch(sky.Task.from_yaml_config(task), cluster_name=run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
