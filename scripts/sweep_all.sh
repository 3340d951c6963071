#!/usr/bin/env bash
# Every method of the cost sweep on one game with the shipped agents, then the report
# (reports/<game>/report.{md,json,png}):
#   bash scripts/sweep_all.sh coinrun [--config.x=y ...]    # or distshift | lavagap | doorkey (JAX gridworlds)
# Extra arguments go to every sweep. An interrupted run resumes: finished sweeps are skipped,
# unfinished ones pick up where they stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
GAME=${1:?usage: sweep_all.sh coinrun|distshift|lavagap|doorkey [overrides...]}; shift
EXTRA=("$@")
if [[ "$GAME" == coinrun ]]; then
  PREFIX=""
  # PPO on Procgen steps the env on the host: dist features and half a million steps keep it to minutes.
  PPO=(--config.policy.feature_type=dist --config.algorithm.total_steps=491520)
else
  PREFIX="${GAME}_"
  PPO=()
fi
NAMES=()
run() {  # run NAME METHOD [overrides...]
  local name="${PREFIX}$1" method=$2 config; shift 2
  if [[ "$GAME" == coinrun ]]; then config="configs/${method}.py"; else config="configs/gridworld.py:${GAME},${method}"; fi
  NAMES+=("experiments/${name}_sweep")
  if [[ -f "experiments/${name}_sweep/sweep.json" ]]; then echo "== ${name}: done"; return; fi
  echo "== ${name}"
  python -m duo_jax.sweep --config="${config}" --config.name="${name}" --config.evaluation.progress=False \
    "$@" "${EXTRA[@]}"
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
run "ppo${PPO:+_dist}" ppo "${PPO[@]}"
run "skyline${PPO:+_dist}" skyline "${PPO[@]}"
python -m duo_jax.report "${NAMES[@]}" --out "reports/${GAME}"
