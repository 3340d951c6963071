"""The coordination methods: one module per built-in method (baselines, ask_every_k, logit, ood, ppo), holding
its policy, its algorithm and their config checks and registering them, beside the machinery they share
(features, grid_search, calibration, novice_rollouts, deep_svdd, the PPO network and trainers).

Importing the package imports every module in it, so a method added here registers without being listed
anywhere else.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
