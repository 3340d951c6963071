"""A method is one module of duo_jax/coordinators/, found without a list: every module there is imported with the
package and registers itself; the earlier import paths (duo_jax.policies.*, duo_jax.algorithms.*) keep giving the
same objects."""
import importlib
import pkgutil
import sys

import pytest

import duo_jax.coordinators
from duo_jax.core.registry import ALGORITHMS, POLICIES

# The public names each earlier module defined (at 4afd172), and the config checks (tests and plugins read them).
EARLIER = {
    "duo_jax.policies.ask_every_k": ("ask_every_k_policy",),
    "duo_jax.policies.baselines": ("always_policy", "random_policy"),
    "duo_jax.policies.features": ("MIN_CONV_SIZE", "FEATURE_TYPES", "check_feature_type", "parts", "feature_reads",
                                  "extract", "FeatureEncoder"),
    "duo_jax.policies.logit": ("METRICS", "check_metric", "confidence", "logit_policy"),
    "duo_jax.policies.ood": ("ood_policy",),
    "duo_jax.policies.ppo": ("CoordinatorNet", "coordinator_apply", "init_coordinator", "ppo_policy"),
    "duo_jax.algorithms.ask_every_k": ("_check_ask_every_k", "ask_every_k"),
    "duo_jax.algorithms.baselines": ("_check_always", "always", "_check_random", "random"),
    "duo_jax.algorithms.deep_svdd": ("EPS", "SVDDNet", "svdd_score", "fit_svdd"),
    "duo_jax.algorithms.grid_search": ("AlgorithmResult", "grid_search", "register_grid_search"),
    "duo_jax.algorithms.jax_ppo_coordinator": ("VAL_CURVES", "TRAIN_METRICS", "make_coord_train",
                                               "make_coord_trainer", "train_alphas"),
    "duo_jax.algorithms.novice_rollouts": ("novice_rollouts",),
    "duo_jax.algorithms.ppo": ("_check_ppo", "ppo"),
    "duo_jax.algorithms.thresholds": ("CACHE_MAX_BYTES", "CACHE_MAX_ENTRIES", "PERCENTILE_SEARCH", "CONTAMINATION",
                                      "THRESHOLD_RULES", "CALIBRATIONS", "_check_logit", "logit", "_check_ood", "ood"),
}
METHODS = {"baselines": ("always", "random"), "ask_every_k": ("ask_every_k",), "logit": ("logit",),
           "ood": ("ood",), "ppo": ("ppo",)}


def test_every_module_of_coordinators_is_imported_with_the_package():
    names = [m.name for m in pkgutil.iter_modules(duo_jax.coordinators.__path__)]
    assert set(METHODS) <= set(names)
    assert all(f"duo_jax.coordinators.{name}" in sys.modules for name in names)


@pytest.mark.parametrize("module, names", METHODS.items())
def test_a_method_registers_its_policy_and_algorithm_in_its_own_module(module, names):
    for name in names:
        for registry in (POLICIES, ALGORITHMS):
            assert registry.place(name).rpartition(":")[0].endswith(f"duo_jax/coordinators/{module}.py"), name


@pytest.mark.parametrize("module, names", EARLIER.items())
def test_earlier_import_paths_give_the_moved_objects(module, names):
    old = importlib.import_module(module)
    for name in names:
        value = getattr(old, name)
        home = getattr(value, "__module__", None)
        if home is not None and not isinstance(value, (dict, tuple, str, int, float)):
            assert home.startswith("duo_jax.coordinators."), (module, name, home)
            assert getattr(importlib.import_module(home), name) is value
