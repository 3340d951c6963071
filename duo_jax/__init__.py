"""duo_jax: JAX-accelerated, functional framework for the YRC (novice/expert coordination) problem."""
import importlib.metadata
import os
import tomllib

# xla_flags first of all: importing it sets XLA_FLAGS before JAX's backend starts.
from duo_jax import paths, xla_flags  # noqa: F401
from duo_jax.agents.agent import Agent, load_agent, make_model
from duo_jax.api import import_plugins, load_policy, make_algorithm, make_environment, make_policy, save_policy
from duo_jax.coordinators.grid_search import AlgorithmResult, grid_search, register_grid_search
from duo_jax.core.coordination import Costs, make_coord_step
from duo_jax.core.curves import CurveWriter, open_curves
from duo_jax.core.evaluator import Evaluator
from duo_jax.core.policy import EXPERT, NOVICE, Policy, stack_params
from duo_jax.core.registry import register_algorithm, register_environment, register_model, register_policy
from duo_jax.core.task import TrainTask

__all__ = [
    "Agent", "AlgorithmResult", "Costs", "CurveWriter", "EXPERT", "Evaluator", "NOVICE", "Policy", "grid_search",
    "import_plugins", "load_agent", "load_policy", "make_algorithm", "make_model", "make_coord_step",
    "make_environment", "make_policy", "open_curves", "register_algorithm", "register_environment",
    "register_grid_search", "register_model", "register_policy", "save_policy", "stack_params", "TrainTask",
]


def _version() -> str:
    """pyproject.toml's version: read from the source tree when running from one (an editable install's metadata
    goes stale when the version changes), else the installed package's metadata."""
    path = os.path.join(paths.REPO, "pyproject.toml")
    if os.path.isfile(path):
        with open(path, "rb") as f:
            project = tomllib.load(f).get("project", {})
        if project.get("name") == "duo_jax":
            return project["version"]
    return importlib.metadata.version("duo_jax")


__version__ = _version()
