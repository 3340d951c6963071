"""An earlier import path, kept working: the code lives in duo_jax/coordinators/deep_svdd.py."""
from duo_jax.coordinators.deep_svdd import EPS, SVDDNet, fit_svdd, svdd_score  # noqa: F401
