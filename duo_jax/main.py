"""The entry point: `python -m duo_jax.main --config configs/ask_every_k.py [--config.a.b=value ...]`.

train mode: run the algorithm on the validation splits, save `best_<split>` policy checkpoints,
and evaluate each split's choice on the test split. eval mode: evaluate a saved policy.
Results go to `experiments/<name>/results.json`.
"""
from __future__ import annotations

from duo_jax import cli
from duo_jax.experiment import setup

# What a run does lives in duo_jax.run; these names stay importable from here (`duo_jax.main.run(config)`).
from duo_jax.run import SPLIT_KEYS, evaluate, execute, run, train  # noqa: F401


def main(argv=None):
    cli.run(setup, execute, config_example="configs/ask_every_k.py", argv=argv, resume_from=lambda s: s.experiment.work)


if __name__ == "__main__":
    main()
