#!/usr/bin/env bash
# The arena with performance-threshold tracking (hearts 2 and 5: samples, minutes, dollars).
#   recipes/arena_with_performance_tracking.sh [hydra overrides...]           # here
#   recipes/arena_with_performance_tracking.sh --sky [--nodes N] [--gpus G] [--no-spot] [--dry-run] [overrides...]
# RUN names the run (default: $USER.arena_thresholds.<time>); PYTHON the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
RUN="${RUN:-${USER:-metta}.arena_thresholds.$(date +%Y%m%d.%H%M%S)}"
if [[ "${1:-}" == "--sky" ]]; then
  shift
  exec "$PYTHON" devops/skypilot/launch.py train "run=$RUN" +performance_thresholds=arena "$@"
fi
exec "$PYTHON" -m metta.train "run=$RUN" +performance_thresholds=arena "$@"
