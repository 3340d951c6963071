"""Config files and command-line overrides, parsed by the same absl/ml_collections flag as duo_jax.main."""
import os

import pytest
from absl import flags
from helpers import REPO, load_config
from ml_collections import config_flags


def parse(config_file: str, *overrides: str):
    """Parse `--config=<file> overrides...` with a fresh flag defined as duo_jax.main defines it."""
    argv = ["duo_jax.main", f"--config={os.path.join(REPO, config_file)}", *overrides]
    fv = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "config", flag_values=fv, lock_config=True, sys_argv=argv)
    fv(argv)
    return fv.config


def test_tuple_override():
    c = parse("configs/ask_every_k.py", "--config.algorithm.candidates=(5,10)")
    assert c.algorithm.candidates == (5, 10)
    assert c.policy.name == "ask_every_k" and c.algorithm.name == "ask_every_k"


def test_scalar_overrides_keep_types():
    c = parse(
        "configs/ask_every_k.py", "--config.costs.alpha=0.25", "--config.costs.bp=1", "--config.evaluation.num_envs=4",
        "--config.evaluation.progress=False", "--config.mode=eval", "--config.eval.checkpoint=/x/best_val_sim",
        "--config.name=run1", "--config.evaluation.validation_splits=('val_true',)",
    )
    assert c.costs.alpha == 0.25
    assert c.costs.bp == 1.0 and isinstance(c.costs.bp, float)
    assert c.evaluation.num_envs == 4 and isinstance(c.evaluation.num_envs, int)
    assert c.evaluation.progress is False
    assert c.mode == "eval" and c.eval.checkpoint == "/x/best_val_sim" and c.name == "run1"
    assert tuple(c.evaluation.validation_splits) == ("val_true",)


def test_defaults_without_overrides():
    c = parse("configs/ask_every_k.py")
    assert c.algorithm.candidates == (5, 10, 15, 20)
    assert c.costs.alpha == 0.4 and c.costs.beta == 0.0
    assert tuple(c.evaluation.validation_splits) == ("val_sim", "val_true")
    assert c.evaluation.test_split == "test" and c.mode == "train"


def test_unknown_field_is_rejected():
    with pytest.raises(Exception, match="nope"):
        parse("configs/ask_every_k.py", "--config.nope=1")


def test_bad_type_is_rejected():
    with pytest.raises(flags.IllegalFlagValueError):
        parse("configs/ask_every_k.py", "--config.evaluation.num_envs=abc")


@pytest.mark.parametrize("name, policy, algorithm", [
    ("ask_every_k", "ask_every_k", "ask_every_k"), ("always", "always", "always"), ("random", "random", "random"),
])
def test_shipped_configs_name_registered_components(name, policy, algorithm):
    import duo_jax

    c = load_config(name)
    assert c.policy.name == policy and c.algorithm.name == algorithm
    duo_jax.make_policy(c.policy.name)
    duo_jax.make_algorithm(c.algorithm.name).check(c)


def test_gridworld_config_takes_game_and_method():
    from duo_jax.config import load_config

    c = load_config(os.path.join(REPO, "configs/gridworld.py") + ":doorkey,ppo")
    assert (c.env.name, c.env.game, c.name) == ("gridworld", "doorkey", "doorkey_ppo")
    assert c.evaluation.max_num_steps == c.algorithm.time_limit == 640 and c.policy.name == "ppo"
    c = parse("configs/gridworld.py:lavagap,logit", "--config.policy.metric=margin")
    assert (c.env.game, c.policy.metric, c.evaluation.max_num_steps) == ("lavagap", "margin", 196)


def test_gridworld_config_bad_argument():
    from duo_jax.config import load_config

    with pytest.raises(
        ValueError, match="configs/gridworld.py takes '<game>,<method>' with game in distshift, lavagap, doorkey"
    ):
        load_config(os.path.join(REPO, "configs/gridworld.py") + ":coinrun,logit")
