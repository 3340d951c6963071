"""duo_jax turns on oneDNN convolutions on jaxlibs that know the flag, and never overrides the user's XLA_FLAGS."""

import os
import subprocess
import sys

import pytest

from duo_jax import xla_flags


@pytest.mark.parametrize(
    ("jaxlib", "environ", "want"),
    [
        ((0, 12), {}, xla_flags.ONEDNN),
        ((0, 10), {}, xla_flags.ONEDNN),
        ((0, 7), {}, None),  # jaxlib 0.7.1 (Python 3.11, 3.12) aborts on an unknown flag
        ((0, 12), {"XLA_FLAGS": ""}, ""),  # the user's choice, even empty, stands
        ((0, 12), {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}, "--xla_dump_to=/tmp/x"),
    ],
)
def test_default_flags(monkeypatch, jaxlib, environ, want):
    monkeypatch.setattr(xla_flags, "_version", lambda package: jaxlib)
    xla_flags.default_flags(environ)
    assert environ.get("XLA_FLAGS") == want


def test_importing_duo_jax_sets_the_flag_and_jax_runs_with_it():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    code = (
        "import os, duo_jax, jax, jax.numpy as jnp; "
        "x = jax.lax.conv(jnp.ones((1, 3, 8, 8)), jnp.ones((4, 3, 3, 3)), (1, 1), 'SAME'); "
        "print(os.environ.get('XLA_FLAGS'), float(x.sum()))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    flags, total = out.split()
    assert flags == (xla_flags.ONEDNN if xla_flags._version("jaxlib") >= (0, 10) else "None")
    assert float(total) == 4 * (27 * 36 + 18 * 24 + 12 * 4)  # interior 27 taps, edges 18, corners 12
