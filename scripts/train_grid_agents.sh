#!/usr/bin/env bash
# Trains the nine shipped gridworld agents under YRC-Bench's action noise (0.1) and ships them as
# agents/<game>/{sim_novice,novice,expert}/agent. YRC-0's simulated novice is the novice run's own checkpoint
# at half its budget (YRC-Bench: 40M of 80M steps). Novices train at a constant learning rate, so a run's first
# half does not depend on its budget: each budget below is the largest one (on a grid of 32,768 steps, 65,536 for
# doorkey) whose half-way snapshot the final novice beats on the train task by at least 0.1 reward and by more
# than both 95% intervals, read off one 1-1.5M-step run with a snapshot at every grid point (docs/gridworlds.md).
# Training is deterministic: rerunning gives the same agents. About 10 minutes on an idle 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-experiments/agents}
train() { python -m duo_jax.agents.train --config configs/train_grid_agent.py --config.overwrite=True "$@"; }  # a rerun retrains $OUT
ship() { rm -rf "agents/$2/agent"; mkdir -p "agents/$2"; cp -r "$1" "agents/$2/agent"; }   # ship SRC GAME/ROLE

novice() { train --config.ppo.final_lr_fraction=1.0 "$@"; }   # a constant learning rate
novice --config.env.task=DistShift1 --config.env.eval_task=DistShift2 --config.ppo.total_steps=327680 \
  '--config.ppo.snapshots=(163840,)' --config.out_dir=$OUT/distshift/novice
train --config.env.task=DistShift2 --config.env.eval_task=DistShift2 --config.ppo.total_steps=1000000 \
  --config.out_dir=$OUT/distshift/expert
ship $OUT/distshift/novice/snapshot_163840 distshift/sim_novice
ship $OUT/distshift/novice/agent distshift/novice
ship $OUT/distshift/expert/agent distshift/expert

novice --config.env.task=LavaGapS5 --config.env.eval_task=LavaGapS7 --config.ppo.total_steps=196608 \
  '--config.ppo.snapshots=(98304,)' --config.out_dir=$OUT/lavagap/novice
train --config.env.task=LavaGapS7 --config.env.eval_task=LavaGapS7 --config.ppo.total_steps=2000000 \
  --config.ppo.learning_rate=0.001 --config.out_dir=$OUT/lavagap/expert
ship $OUT/lavagap/novice/snapshot_98304 lavagap/sim_novice
ship $OUT/lavagap/novice/agent lavagap/novice
ship $OUT/lavagap/expert/agent lavagap/expert

novice --config.env.task=DoorKey-5x5 --config.env.eval_task=DoorKey-8x8 --config.ppo.total_steps=262144 \
  '--config.ppo.snapshots=(131072,)' --config.out_dir=$OUT/doorkey/novice
train --config.env.task=DoorKey-8x8 --config.env.eval_task=DoorKey-8x8 --config.ppo.total_steps=5000000 \
  --config.out_dir=$OUT/doorkey/expert
ship $OUT/doorkey/novice/snapshot_131072 doorkey/sim_novice
ship $OUT/doorkey/novice/agent doorkey/novice
ship $OUT/doorkey/expert/agent doorkey/expert
