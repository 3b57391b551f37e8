#!/usr/bin/env bash
# Spec 004's experiments matrix at a scale that finishes on a 2-core machine: each variant of
# the learning-progress curriculum over 3 seeds (STEPS agent steps each), then one table and
# plot of reward noise, slope after convergence and SPS.
#   experiments/lp_reward_noise.sh            # all variants
#   STEPS=20000000 experiments/lp_reward_noise.sh baseline high_z
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$([[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3)}"
STEPS="${STEPS:-3000000}"
SEEDS="${SEEDS:-0,1,2}"
OUT="${OUT:-train_dir/lp_matrix}"
EXTRA="${EXTRA:-}"  # more overrides for every run, e.g. "env.game.max_steps=200"
declare -A VARIANT=(
  [baseline]=""
  [high_z]="curriculum.algorithm.z_score_amplification=30"
  [annealed]="curriculum.algorithm.z_score_schedule=[[$((STEPS / 2)),30.0],[null,10.0]]"
  [gae_input]="curriculum.algorithm.lp_input=gae"
  [pool_cap]="curriculum.algorithm.max_sampling_tasks=4"
  [sps_gating]="curriculum.algorithm.sps_gating=1.0"
)
NAMES=("$@")
[[ ${#NAMES[@]} -eq 0 ]] && NAMES=(baseline high_z annealed gae_input pool_cap sps_gating)
COMPARE=()
for name in "${NAMES[@]}"; do
  [[ -v "VARIANT[$name]" ]] || { echo "unknown variant $name (known: ${!VARIANT[*]})" >&2; exit 2; }
  # shellcheck disable=SC2086
  "$PYTHON" -m metta.train -m "train_dir=$OUT" "run=$name" "seed=$SEEDS" curriculum=learning_progress \
    "trainer.total_timesteps=$STEPS" wandb=disabled ${VARIANT[$name]} $EXTRA
  COMPARE+=(--experiment "$name=$OUT/$name")
done
"$PYTHON" -m metta.analysis.reward_timeseries compare "${COMPARE[@]}" --out "$OUT/compare"
