"""An earlier import path, kept working: the code lives in duo_jax/coordinators/ppo_jax.py."""
from duo_jax.coordinators.ppo_jax import (  # noqa: F401
    TRAIN_METRICS,
    VAL_CURVES,
    make_coord_train,
    make_coord_trainer,
    train_alphas,
)
