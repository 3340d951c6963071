"""Config validation before any work: one table of field -> rule per entry point.

Every number anywhere in a config must be finite; each field of a table must then satisfy its rule
(fields a config does not have are skipped: methods add their own). A broken rule is one ValueError
sentence naming the field, the value and what is allowed. Checks that need loaded components (a
registered name, a split of the env) stay with those components.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import ml_collections


class Rule(NamedTuple):
    """`ok(value) -> bool`; `allowed` completes "<field> must be ..."."""

    ok: Callable[[Any], bool]
    allowed: str


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _seq(v) -> bool:
    return isinstance(v, (tuple, list))


INT = Rule(_int, "an integer")
POSITIVE_INT = Rule(lambda v: _int(v) and v > 0, "a positive integer")
NUMBER = Rule(_number, "a finite number")
NON_NEGATIVE = Rule(lambda v: _number(v) and v >= 0, "a number >= 0")
POSITIVE = Rule(lambda v: _number(v) and v > 0, "a finite number > 0")
FRACTION = Rule(lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]")
UNIT = Rule(lambda v: _number(v) and 0 <= v <= 1, "a number in [0, 1]")
BOOL = Rule(lambda v: isinstance(v, bool), "True or False")
TEXT = Rule(lambda v: isinstance(v, str), "a string")
NAME = Rule(lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string")
NAMES = Rule(lambda v: _seq(v) and len(v) > 0 and all(NAME.ok(x) for x in v), "a non-empty list of names")
PATHS = Rule(lambda v: _seq(v) and all(NAME.ok(x) for x in v), "a list of file paths")
POSITIVE_INTS = Rule(lambda v: _seq(v) and all(POSITIVE_INT.ok(x) for x in v), "a list of positive integers")
# (an infinite alpha passes here and is refused by check_finite, with its own message)
ALPHAS = Rule(lambda v: _seq(v) and len(v) >= 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool)
                                                        and a >= 0 for a in v) and list(v) == sorted(set(v)),
              "at least two distinct increasing numbers >= 0")


def one_of(*choices: str) -> Rule:
    return Rule(lambda v: isinstance(v, str) and v in choices, f"one of {', '.join(choices)}")


def some_of(names, more: str = "", most: int = 12) -> str:
    """`names` for an error message, at most `most` of them and then how many more (and `more`: where they all are),
    so that every error stays one line of at most 300 characters."""
    names = list(names)
    return ", ".join(names[:most]) + (f" and {len(names) - most} more{more}" if len(names) > most else "")


# duo_jax.main and duo_jax.sweep (configs/*.py over duo_jax/config.py). Method-specific fields
# (algorithm.candidates, algorithm.probabilities, ...) are checked by the algorithm's own `check`.
EXPERIMENT_RULES: dict[str, Rule] = {
    "name": Rule(lambda v: NAME.ok(v) and "/" not in v and not v.startswith("."),
                 "a non-empty directory name without '/' or a leading '.'"),
    "mode": one_of("train", "eval"),
    "overwrite": BOOL,
    "experiments_dir": NAME,
    "seed": INT,
    "plugins": PATHS,
    "env.name": NAME,
    "env.game": NAME,
    "agents.train_novice": TEXT, "agents.train_expert": TEXT, "agents.test_novice": TEXT, "agents.test_expert": TEXT,
    "costs.alpha": NON_NEGATIVE,
    "costs.beta": NON_NEGATIVE,
    "costs.bp": NUMBER,
    "costs.round_to_cents": BOOL,
    "coordination.open_expert": BOOL,
    "coordination.temperature": POSITIVE,
    "policy.name": NAME,
    "policy.hidden_dim": POSITIVE_INT,
    "policy.rep_dim": POSITIVE_INT,
    "policy.greedy": BOOL,
    "algorithm.name": NAME,
    "algorithm.train_split": NAME,
    "algorithm.total_steps": POSITIVE_INT,
    "algorithm.num_envs": POSITIVE_INT,
    "algorithm.num_steps": POSITIVE_INT,
    "algorithm.num_epochs": POSITIVE_INT,
    "algorithm.num_minibatches": POSITIVE_INT,
    "algorithm.learning_rate": POSITIVE,
    "algorithm.ent_coef": NON_NEGATIVE,
    "algorithm.vf_coef": NON_NEGATIVE,
    "algorithm.max_grad_norm": POSITIVE,
    "algorithm.eval_every": POSITIVE_INT,
    "algorithm.time_limit": POSITIVE_INT,
    "algorithm.weight_decay": NON_NEGATIVE,
    "evaluation.num_episodes": POSITIVE_INT,
    "evaluation.num_envs": POSITIVE_INT,
    "evaluation.max_num_steps": POSITIVE_INT,
    "evaluation.seed": INT,
    "evaluation.validation_splits": NAMES,
    "evaluation.test_split": NAME,
    "evaluation.progress": BOOL,
    "eval.checkpoint": TEXT,
    "eval.splits": NAMES,
    "sweep.alphas": ALPHAS,
}

# duo_jax.agents.train: configs/train_agent.py (Procgen) and configs/train_grid_agent.py (gridworld).
AGENT_TRAIN_RULES: dict[str, Rule] = {
    "seed": INT,
    "out_dir": NAME,
    "overwrite": BOOL,
    "env.name": one_of("procgen", "gridworld"),
    "env.game": NAME,
    "env.split": NAME,
    "env.num_actions": POSITIVE_INT,
    "env.task": NAME,
    "env.eval_task": TEXT,
    "env.num_eval_episodes": POSITIVE_INT,
    "env.eval_seed": INT,
    "env.action_noise": UNIT,
    "model.name": NAME,
    "ppo.total_steps": POSITIVE_INT,
    "ppo.num_envs": POSITIVE_INT,
    "ppo.num_steps": POSITIVE_INT,
    "ppo.num_epochs": POSITIVE_INT,
    "ppo.num_minibatches": POSITIVE_INT,
    "ppo.learning_rate": POSITIVE,
    "ppo.final_lr_fraction": UNIT,
    "ppo.gamma": FRACTION,
    "ppo.gae_lambda": UNIT,
    "ppo.clip_eps": POSITIVE,
    "ppo.ent_coef": NON_NEGATIVE,
    "ppo.vf_coef": NON_NEGATIVE,
    "ppo.max_grad_norm": POSITIVE,
    "ppo.checkpoint_every": POSITIVE_INT,
    "ppo.log_every": POSITIVE_INT,
    "ppo.snapshots": POSITIVE_INTS,
}

_MISSING = object()


def get_field(config, field: str, default: Any = _MISSING) -> Any:
    """`config.a.b` for field "a.b"; `default` (or a sentinel) when a part is missing."""
    node = config
    for part in field.split("."):
        if not isinstance(node, (ml_collections.ConfigDict, dict)) or part not in node:
            return default
        node = node[part]
    return node


def leaves(config, prefix: str = ""):
    """(field, value) for every non-section field, nested fields as "a.b"."""
    for name, value in config.items():
        field = f"{prefix}{name}"
        if isinstance(value, (ml_collections.ConfigDict, dict)):
            yield from leaves(value, field + ".")
        else:
            yield field, value


def _not_finite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    return _seq(value) and any(_not_finite(v) for v in value)


def check_finite(config) -> None:
    """No NaN or infinity anywhere, in lists too: such a value never means what the user wanted."""
    for field, value in leaves(config):
        if _not_finite(value):
            what = "hold finite numbers only" if _seq(value) else "be a finite number"
            raise ValueError(f"{field} must {what}; got {value!r}.")


def check_rules(config, rules: dict[str, Rule]) -> None:
    for field, rule in rules.items():
        value = get_field(config, field)
        if value is not _MISSING and not rule.ok(value):
            raise ValueError(f"{field} must be {rule.allowed}; got {value!r}.")


def check_divides(config, section: str) -> None:
    """PPO's `num_envs * num_steps` batch must hold one iteration and split into equal minibatches."""
    s = get_field(config, section)
    batch = s.num_envs * s.num_steps
    if s.total_steps < batch:
        raise ValueError(f"{section}.total_steps ({s.total_steps}) must be at least {section}.num_envs * "
                         f"{section}.num_steps ({batch}).")
    if batch % s.num_minibatches:
        raise ValueError(f"{section}.num_minibatches ({s.num_minibatches}) must divide {section}.num_envs * "
                         f"{section}.num_steps ({batch}).")


def validate_experiment(config) -> None:
    """The checks of `duo_jax.main` and `duo_jax.sweep` that need nothing loaded."""
    check_finite(config)
    check_rules(config, EXPERIMENT_RULES)
    ev = config.evaluation
    if ev.num_episodes % ev.num_envs:
        raise ValueError(
            f"evaluation.num_episodes ({ev.num_episodes}) must be divisible by evaluation.num_envs ({ev.num_envs})."
        )
    if ev.test_split in ev.validation_splits:
        raise ValueError(
            "evaluation.validation_splits must not include the test split: models are never selected on test."
        )
    if all(
        get_field(config, f"algorithm.{f}", None) is not None
        for f in ("total_steps", "num_envs", "num_steps", "num_minibatches")
    ):
        check_divides(config, "algorithm")


def validate_agent_training(config) -> None:
    """The checks of `duo_jax.agents.train`, before anything is built."""
    check_finite(config)
    check_rules(config, AGENT_TRAIN_RULES)
    check_divides(config, "ppo")
