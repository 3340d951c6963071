"""Measure a base agent on a split and store the stats in its checkpoint (BP comes from the expert's).

    python -m duo_jax.agents.evaluate --agent=agents/coinrun/expert/agent --split=test
"""
from __future__ import annotations

import sys

import jax
from absl import app, flags, logging

from duo_jax.agents.agent import Agent, load_agent
from duo_jax.core import checkpoint
from duo_jax.core.coordination import Costs
from duo_jax.core.evaluator import Evaluator, format_summary
from duo_jax.core.policy import stack_params
from duo_jax.envs.procgen import check_split, make_eval_env
from duo_jax.policies.baselines import always_policy

_AGENT = flags.DEFINE_string("agent", None, "Agent checkpoint directory.")
_SPLIT = flags.DEFINE_string("split", "test", "Split to evaluate on.")
_EPISODES = flags.DEFINE_integer("num_episodes", 256, "Episodes (one per fixed level).")
_STEPS = flags.DEFINE_integer("max_num_steps", 1000, "Step cap per episode (Procgen's own time limit is 1000).")
_SEED = flags.DEFINE_integer("seed", 0, "Level and sampling seed.")


def evaluate_agent(agent: Agent, split: str, num_episodes: int, max_num_steps: int, seed: int = 0,
                   num_envs: int = 64) -> dict:
    """The agent acting alone on the split's fixed levels: the always-novice policy with itself as both agents,
    the episodes scheduled onto `num_envs` slots."""
    game = agent.config["game"]

    def make_env(num_slots):
        return make_eval_env(game, split, num_episodes, num_slots, seed)

    evaluator = Evaluator(split, make_env, agent, agent, Costs(0.0, 0.0, 0.0), num_episodes, num_envs, max_num_steps)
    return evaluator.evaluate(always_policy(), stack_params([{"expert": 0}]), jax.random.PRNGKey(seed))[0]


def main(argv):
    del argv
    try:
        if not _AGENT.value:
            raise ValueError("--agent must name an agent checkpoint directory.")
        check_split(_SPLIT.value)
        agent = load_agent(_AGENT.value)
    except (FileNotFoundError, ValueError) as err:  # bad input: one sentence, nothing written
        sys.exit(f"error: {err}")
    summary = evaluate_agent(agent, _SPLIT.value, _EPISODES.value, _STEPS.value, _SEED.value)
    logging.info("%s on %s: %s", _AGENT.value, _SPLIT.value, format_summary(summary))
    stats = dict(summary, split=_SPLIT.value, max_num_steps=_STEPS.value)
    step = checkpoint.latest_step(_AGENT.value) + 1
    checkpoint.save_checkpoint(_AGENT.value, agent.params, dict(agent.config, stats=stats), step=step, max_to_keep=1)
    logging.info("Stored stats in %s (step %d)", _AGENT.value, step)


if __name__ == "__main__":
    app.run(main)
