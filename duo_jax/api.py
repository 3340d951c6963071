"""The public API: make_* look-ups over the registries, and policy checkpoints."""
from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from ml_collections import ConfigDict

# Registration side effects of the built-in components: every method of duo_jax/coordinators/, the env families.
import duo_jax.coordinators  # noqa: F401
import duo_jax.envs.gridworld.family  # noqa: F401
import duo_jax.envs.procgen  # noqa: F401
from duo_jax.config import load_module
from duo_jax.core.checkpoint import load_checkpoint, save_policy  # noqa: F401  (save_policy: public here)
from duo_jax.core.environment import EnvFamily
from duo_jax.core.policy import Policy
from duo_jax.core.registry import ALGORITHMS, ENVIRONMENTS, POLICIES, AlgorithmSpec

PLUGIN_PREFIX = "duo_jax_plugin_"  # a plugin file foo.py is imported as module duo_jax_plugin_foo


def make_policy(name: str, config: Any = None) -> Policy:
    return POLICIES.get(name)(config)


def make_algorithm(name: str) -> AlgorithmSpec:
    return ALGORITHMS.get(name)


def make_environment(env_config: Any) -> EnvFamily:
    return ENVIRONMENTS.get(env_config.name)(env_config)


def load_policy(path: str) -> tuple[Policy, Any, dict]:
    """Restore (policy, params, checkpoint config) from a `save_policy` checkpoint."""
    params, config = load_checkpoint(path)
    if "policy" not in config:
        raise ValueError(f"Checkpoint at {path!r} is not a policy checkpoint (its config names no 'policy').")
    return make_policy(config["policy"], ConfigDict(config["policy_config"])), params, config


def import_plugins(paths) -> None:
    """Import user files (e.g. `my_algorithm.py`) so their register_* calls run before look-ups.

    A plugin's use of a deprecated form is shown (Python hides DeprecationWarnings outside `__main__`), so its
    author learns what to write instead before the old form is removed; `python -W` settings take precedence."""
    if not sys.warnoptions:
        warnings.filterwarnings("default", category=DeprecationWarning, module=PLUGIN_PREFIX)
    for path in paths:
        name = PLUGIN_PREFIX + os.path.splitext(os.path.basename(path))[0]
        if name not in sys.modules:
            load_module(path, name, "plugins")
