"""XLA flags duo_jax sets before JAX starts its backend (on import: `duo_jax/__init__.py` imports this first).

oneDNN convolutions: jaxlib 0.10 and newer accept `--xla_cpu_experimental_onednn_custom_call`, which runs
XLA:CPU's convolutions through oneDNN (the IMPALA CNN's forward pass near PyTorch's speed on CPU). duo_jax
turns it on unless the user has set XLA_FLAGS themselves (`XLA_FLAGS=` turns it off). Older jaxlibs (0.7.1 on
Python 3.11 and 3.12) do not know the flag and would abort on it. It changes nothing off CPU.
`--xla_cpu_enable_fast_math` stays off: it reorders float arithmetic, and no test shows that every shipped
result survives it.
"""

from __future__ import annotations

import importlib.metadata
import os

ONEDNN = "--xla_cpu_experimental_onednn_custom_call=true"
FIRST_JAXLIB_WITH_ONEDNN = (0, 10)


def _version(package: str) -> tuple[int, ...]:
    try:
        text = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ()
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def default_flags(environ=os.environ) -> None:
    """Set XLA_FLAGS to oneDNN convolutions when the user left it unset and the installed jaxlib knows the flag."""
    if "XLA_FLAGS" not in environ and _version("jaxlib") >= FIRST_JAXLIB_WITH_ONEDNN:
        environ["XLA_FLAGS"] = ONEDNN


default_flags()
