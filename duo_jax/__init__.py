"""duo_jax: JAX-accelerated, functional framework for the YRC (novice/expert coordination) problem."""
from duo_jax.agents.agent import Agent, load_agent, make_model
from duo_jax.api import import_plugins, load_policy, make_algorithm, make_environment, make_policy, save_policy
from duo_jax.core.coordination import Costs, make_coord_step
from duo_jax.core.evaluator import Evaluator
from duo_jax.core.policy import EXPERT, NOVICE, Policy, stack_params
from duo_jax.core.registry import register_algorithm, register_environment, register_model, register_policy
from duo_jax.algorithms.grid_search import AlgorithmResult, grid_search, register_grid_search
from duo_jax.core.task import TrainTask

__all__ = [
    "Agent", "AlgorithmResult", "Costs", "EXPERT", "Evaluator", "NOVICE", "Policy", "grid_search", "import_plugins",
    "load_agent", "load_policy", "make_algorithm", "make_model", "make_coord_step", "make_environment", "make_policy",
    "register_algorithm", "register_environment", "register_grid_search", "register_model", "register_policy",
    "save_policy", "stack_params", "TrainTask",
]
