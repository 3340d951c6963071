#!/usr/bin/env bash
# Every method of the cost sweep on one gridworld game with the shipped agents, then the report
# (reports/<game>/report.{md,json,png}):
#   bash scripts/sweep_gridworld.sh lavagap [--config.x=y ...]     # game: distshift | lavagap | doorkey
# Extra arguments go to every sweep. An interrupted run resumes: finished sweeps are skipped,
# unfinished ones pick up where they stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
GAME=${1:?usage: sweep_gridworld.sh distshift|lavagap|doorkey [overrides...]}; shift
EXTRA=("$@")
NAMES=()
run() {  # run NAME METHOD [overrides...]
  local name="${GAME}_$1" method=$2; shift 2
  NAMES+=("experiments/${name}_sweep")
  if [[ -f "experiments/${name}_sweep/sweep.json" ]]; then echo "== ${name}: done"; return; fi
  echo "== ${name}"
  python -m duo_jax.sweep --config="configs/gridworld.py:${GAME},${method}" --config.name="${name}" \
    --config.evaluation.progress=False "$@" "${EXTRA[@]}"
}
run always_novice always --config.algorithm.agent=novice
run always_expert always --config.algorithm.agent=expert
run random_fixed random_fixed
run random random
run ask_every_k ask_every_k '--config.algorithm.candidates=(1,2,3,5,10,20)'
run logit_max_logit logit --config.policy.metric=max_logit
run logit_margin logit --config.policy.metric=margin
run ood_obs ood --config.policy.feature_type=obs
run ood_hidden ood --config.policy.feature_type=hidden
run ppo ppo
run skyline skyline
python -m duo_jax.report "${NAMES[@]}" --out "reports/${GAME}"
