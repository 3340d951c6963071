"""An earlier import path, kept working: the code lives in duo_jax/coordinators/logit.py."""
from duo_jax.coordinators.logit import METRICS, check_metric, confidence, logit_policy  # noqa: F401
