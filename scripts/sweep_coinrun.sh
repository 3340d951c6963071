#!/usr/bin/env bash
# Every method of the cost sweep on coinrun with the shipped agents, then the report
# (reports/coinrun/report.{md,json,png}). Extra arguments go to every sweep, e.g.
#   bash scripts/sweep_coinrun.sh --config.evaluation.progress=False
# An interrupted run resumes: finished sweeps are skipped, unfinished ones pick up where they stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
run() {  # run NAME CONFIG [overrides...]
  local name=$1 config=$2; shift 2
  if [[ -f "experiments/${name}_sweep/sweep.json" ]]; then echo "== ${name}: done"; return; fi
  echo "== ${name}"
  python -m duo_jax.sweep --config "configs/${config}.py" --config.name="${name}" "$@" "${EXTRA[@]}"
}
EXTRA=("$@")
run always_novice always --config.algorithm.agent=novice
run always_expert always --config.algorithm.agent=expert
run random_fixed random_fixed
run random random
run ask_every_k ask_every_k '--config.algorithm.candidates=(1,2,3,5,10,20)'
run logit_max_logit logit --config.policy.metric=max_logit
run logit_margin logit --config.policy.metric=margin
run ood_obs ood --config.policy.feature_type=obs
run ood_hidden ood --config.policy.feature_type=hidden
run ppo_dist ppo --config.policy.feature_type=dist --config.algorithm.total_steps=491520
run skyline_dist skyline --config.policy.feature_type=dist --config.algorithm.total_steps=491520
python -m duo_jax.report experiments/{always_novice,always_expert,random_fixed,random,ask_every_k,logit_max_logit,logit_margin,ood_obs,ood_hidden,ppo_dist,skyline_dist}_sweep --out reports/coinrun
