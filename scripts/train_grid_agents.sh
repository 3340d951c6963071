#!/usr/bin/env bash
# Trains the nine shipped gridworld agents under YRC-Bench's action noise (0.1) and ships them as
# agents/<game>/{sim_novice,novice,expert}/agent. YRC-0's simulated novice is an earlier snapshot of the
# novice's own run: the latest snapshot at least 0.1 reward below the novice on the train task (by half its
# budget every novice has converged on its small train task, so the snapshots kept are early ones).
# Training is deterministic: rerunning gives the same agents. About 15 minutes on an idle 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-experiments/agents}
train() { python -m duo_jax.agents.train --config configs/train_grid_agent.py --config.overwrite=True "$@"; }  # a rerun retrains $OUT
ship() { rm -rf "agents/$2/agent"; mkdir -p "agents/$2"; cp -r "$1" "agents/$2/agent"; }   # ship SRC GAME/ROLE

train --config.env.task=DistShift1 --config.env.eval_task=DistShift2 --config.ppo.total_steps=1000000 \
  '--config.ppo.snapshots=(126976,249856,499712)' --config.out_dir=$OUT/distshift/novice
train --config.env.task=DistShift2 --config.env.eval_task=DistShift2 --config.ppo.total_steps=1000000 \
  --config.out_dir=$OUT/distshift/expert
ship $OUT/distshift/novice/snapshot_126976 distshift/sim_novice
ship $OUT/distshift/novice/agent distshift/novice
ship $OUT/distshift/expert/agent distshift/expert

train --config.env.task=LavaGapS5 --config.env.eval_task=LavaGapS7 --config.ppo.total_steps=2000000 \
  '--config.ppo.snapshots=(16384,32768,65536,131072,262144)' --config.out_dir=$OUT/lavagap/novice
train --config.env.task=LavaGapS7 --config.env.eval_task=LavaGapS7 --config.ppo.total_steps=2000000 \
  --config.ppo.learning_rate=0.001 --config.out_dir=$OUT/lavagap/expert
ship $OUT/lavagap/novice/snapshot_65536 lavagap/sim_novice
ship $OUT/lavagap/novice/agent lavagap/novice
ship $OUT/lavagap/expert/agent lavagap/expert

train --config.env.task=DoorKey-5x5 --config.env.eval_task=DoorKey-8x8 --config.ppo.total_steps=3000000 \
  '--config.ppo.snapshots=(32768,65536,131072,262144,524288)' --config.out_dir=$OUT/doorkey/novice
train --config.env.task=DoorKey-8x8 --config.env.eval_task=DoorKey-8x8 --config.ppo.total_steps=5000000 \
  --config.out_dir=$OUT/doorkey/expert
ship $OUT/doorkey/novice/snapshot_131072 doorkey/sim_novice
ship $OUT/doorkey/novice/agent doorkey/novice
ship $OUT/doorkey/expert/agent doorkey/expert
