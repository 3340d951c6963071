"""An earlier import path, kept working: the code lives in duo_jax/coordinators/features.py."""
from duo_jax.coordinators.features import (  # noqa: F401
    FEATURE_TYPES,
    MIN_CONV_SIZE,
    FeatureEncoder,
    check_feature_type,
    extract,
    feature_reads,
    parts,
)
