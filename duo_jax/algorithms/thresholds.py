"""An earlier import path, kept working: the code lives in duo_jax/coordinators/ (calibration, logit, ood)."""
from duo_jax.coordinators.calibration import CACHE_MAX_BYTES, CACHE_MAX_ENTRIES, CALIBRATIONS  # noqa: F401
from duo_jax.coordinators.logit import _check_logit, logit  # noqa: F401
from duo_jax.coordinators.ood import CONTAMINATION, PERCENTILE_SEARCH, THRESHOLD_RULES, _check_ood, ood  # noqa: F401
