#!/usr/bin/env bash
# Trains the nine shipped gridworld agents (novice, expert and YRC-0's simulated novice per game) with
# pure-JAX PPO; each writes agents/<game>/<role>/agent with its test-task stats. About 5 min in all on
# a 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
train() { python -m duo_jax.agents.train --config configs/train_grid_agent.py "$@"; }
train --config.env.task=DistShift1 --config.env.eval_task=DistShift2 --config.ppo.total_steps=98304 --config.seed=1 --config.out_dir=agents/distshift/sim_novice
train --config.env.task=DistShift1 --config.env.eval_task=DistShift2 --config.ppo.total_steps=1000000 --config.out_dir=agents/distshift/novice
train --config.env.task=DistShift2 --config.env.eval_task=DistShift2 --config.ppo.total_steps=1000000 --config.out_dir=agents/distshift/expert
train --config.env.task=LavaGapS5 --config.env.eval_task=LavaGapS7 --config.ppo.total_steps=131072 --config.seed=1 --config.out_dir=agents/lavagap/sim_novice
train --config.env.task=LavaGapS5 --config.env.eval_task=LavaGapS7 --config.ppo.total_steps=2000000 --config.out_dir=agents/lavagap/novice
train --config.env.task=LavaGapS7 --config.env.eval_task=LavaGapS7 --config.ppo.total_steps=2000000 --config.ppo.learning_rate=0.001 --config.out_dir=agents/lavagap/expert
train --config.env.task=DoorKey-5x5 --config.env.eval_task=DoorKey-8x8 --config.ppo.total_steps=131072 --config.seed=1 --config.out_dir=agents/doorkey/sim_novice
train --config.env.task=DoorKey-5x5 --config.env.eval_task=DoorKey-8x8 --config.ppo.total_steps=3000000 --config.out_dir=agents/doorkey/novice
train --config.env.task=DoorKey-8x8 --config.env.eval_task=DoorKey-8x8 --config.ppo.total_steps=5000000 --config.out_dir=agents/doorkey/expert
