"""Measure a base agent on a split and store the stats in its checkpoint: test stats as `stats` (BP comes
from the expert's), any other split's under `split_stats[<split>]`.

    python -m duo_jax.agents.evaluate --agent=agents/coinrun/expert/agent --split=test
    python -m duo_jax.agents.evaluate --agent=agents/distshift/expert/agent --split=test

Procgen and gridworld agents alike: the agent's `game` picks the env family, and the agent plays the
split's fixed levels through the same evaluator as `duo_jax.main` (gridworld: one jitted scan).
"""
from __future__ import annotations

import os

import jax
import ml_collections
from absl import flags, logging

from duo_jax import cli
from duo_jax.agents.agent import Agent, load_agent
from duo_jax.api import make_environment
from duo_jax.coordinators.baselines import always_policy
from duo_jax.core import checkpoint
from duo_jax.core.coordination import Costs
from duo_jax.core.environment import EnvFamily
from duo_jax.core.evaluator import Evaluator
from duo_jax.core.jax_evaluator import JaxEvaluator
from duo_jax.core.policy import stack_params
from duo_jax.envs import procgen
from duo_jax.envs.gridworld import family as gridworld
from duo_jax.tables import agent_table

_AGENT = flags.DEFINE_string(
    "agent", None, "Agent checkpoint directory, relative to the working directory (e.g. agents/coinrun/expert/agent)."
)
_SPLIT = flags.DEFINE_string("split", "test", "Split to evaluate on: train, val_sim, val_true or test.")
_EPISODES = flags.DEFINE_integer("num_episodes", 256, "Episodes (one per fixed level).")
_ENVS = flags.DEFINE_integer("num_envs", 64, "Env slots; each plays episodes until none is left.")
_STEPS = flags.DEFINE_integer("max_num_steps", 1000, "Step cap per episode (Procgen's own time limit is 1000).")
_SEED = flags.DEFINE_integer("seed", 0, "Level and sampling seed.")


def env_family(agent: Agent, path: str = "agent") -> EnvFamily:
    """The env family of the game the agent was trained on (a gridworld with the agent's action noise)."""
    game = agent.config.get("game")
    if game in gridworld.GAMES:
        noise = agent.config.get("action_noise", 0.0)  # agents from before the noise played without it
        return make_environment(ml_collections.ConfigDict(dict(name="gridworld", game=game, action_noise=noise)))
    if game in procgen.GAMES:
        return make_environment(ml_collections.ConfigDict(dict(name="procgen", game=game)))
    raise ValueError(f"--agent: {path} was trained on game {game!r}, which is neither a Procgen game nor a gridworld "
                     f"({', '.join(gridworld.GAMES)}).")


def evaluate_agent(agent: Agent, split: str, num_episodes: int, max_num_steps: int, seed: int = 0,
                   num_envs: int = 64) -> dict:
    """The agent acting alone on the split's fixed levels: the always-novice policy with itself as both agents,
    the episodes scheduled onto `num_envs` slots."""
    env = env_family(agent)

    def make_env(num_slots):
        return env.make_eval_env(split, num_episodes, num_slots, seed)

    args = (split, make_env, agent, agent, Costs(0.0, 0.0, 0.0), num_episodes, num_envs, max_num_steps)
    if env.jax_split is not None:
        evaluator = JaxEvaluator(*args, seed=seed, jax_split=env.jax_split(split))
    else:
        evaluator = Evaluator(*args, seed=seed)
    return evaluator.evaluate(always_policy(), stack_params([{"expert": 0}]), jax.random.PRNGKey(seed))[0]


def prepare() -> Agent:
    """Every flag checked and the agent loaded, before any episode."""
    if not _AGENT.value:
        raise ValueError("--agent must name an agent checkpoint directory, e.g. --agent=agents/coinrun/expert/agent.")
    for flag in (_EPISODES, _ENVS, _STEPS):
        if flag.value <= 0:
            raise ValueError(f"--{flag.name} must be a positive integer; got {flag.value}.")
    if _EPISODES.value % min(_ENVS.value, _EPISODES.value):
        raise ValueError(f"--num_episodes ({_EPISODES.value}) must be divisible by --num_envs ({_ENVS.value}).")
    try:
        agent = load_agent(os.path.abspath(_AGENT.value))  # relative to the working directory; errors name it whole
    except FileNotFoundError as err:
        raise ValueError(f"--agent: {err}") from None
    except ValueError as err:
        raise ValueError(f"--agent: {err}") from None
    env = env_family(agent, _AGENT.value)
    if _SPLIT.value not in env.splits:
        raise ValueError(f"--split must be one of {', '.join(env.splits)}; got {_SPLIT.value!r}.")
    return agent


def split_stats(config: dict, split: str) -> dict | None:
    """The stats an agent checkpoint's config holds for `split` (test: `stats`), if any."""
    stats = config.get("stats") if split == "test" else config.get("split_stats", {}).get(split)
    return stats if stats and stats.get("split", "test") == split else None


def store_stats(path: str, agent: Agent, stats: dict) -> Agent:
    """Write `stats` into the agent checkpoint at `path`: test stats as `stats` (BP comes from the expert's),
    any other split's under `split_stats[<split>]`. Returns the agent with its new config."""
    split = stats["split"]
    config = (dict(agent.config, stats=stats) if split == "test" else
              dict(agent.config, split_stats={**agent.config.get("split_stats", {}), split: stats}))
    step = checkpoint.latest_step(path) + 1
    checkpoint.save_checkpoint(path, agent.params, config, step=step, max_to_keep=1)
    logging.info("Stored %s stats in %s (step %d)", split, path, step)
    return agent._replace(config=config)


def measure(path: str, agent: Agent, split: str, num_episodes: int, max_num_steps: int, seed: int = 0,
            num_envs: int = 64) -> tuple[Agent, dict]:
    """The agent's stats on `split`, stored in its checkpoint; stats stored before with the same episodes, cap
    and seed are reused (a rerun measures nothing twice)."""
    old = split_stats(agent.config, split)
    if old and (old.get("episodes"), old.get("max_num_steps"), old.get("seed", 0)) == (
        num_episodes,
        max_num_steps,
        seed,
    ):
        return agent, old
    summary = evaluate_agent(agent, split, num_episodes, max_num_steps, seed, min(num_envs, num_episodes))
    stats = dict(summary, split=split, max_num_steps=max_num_steps, seed=seed)
    return store_stats(path, agent, stats), stats


def execute(agent: Agent) -> dict:
    summary = evaluate_agent(
        agent, _SPLIT.value, _EPISODES.value, _STEPS.value, _SEED.value, min(_ENVS.value, _EPISODES.value)
    )
    stats = dict(summary, split=_SPLIT.value, max_num_steps=_STEPS.value, seed=_SEED.value)
    store_stats(_AGENT.value, agent, stats)
    print(agent_table(_AGENT.value, stats))
    return stats


def main(argv=None):
    cli.run(prepare, execute, argv=argv)


if __name__ == "__main__":
    main()
