"""The one place that knows which Procgen package is installed.

Both packages wrap the same C++ games (same levels, frames and `get_state` bytes); only their Python
layers differ. `procgen-mirror` (Python 3.11/3.12, numpy<2) exposes gym3's `ProcgenGym3Env`;
`procgen-gym` (Python >= 3.13, numpy 2) a Gymnasium `ProcgenVecEnv`. `make` returns a `Games` over
either, so duo_jax.envs.procgen has one code path.
"""
from __future__ import annotations

import contextlib
import io

import numpy as np


def package() -> str:
    """The installed Procgen package's name: 'procgen-mirror' or 'procgen-gym'."""
    return _backend()[0]


def _backend():
    # Imported lazily, and quietly: procgen-mirror imports gym, which prints an "unmaintained" notice to
    # stderr every time; duo_jax uses the C env only.
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            from procgen import ProcgenGym3Env
            return "procgen-mirror", ProcgenGym3Env
        except ImportError:
            pass
        try:
            from procgen_gym import ProcgenVecEnv
            return "procgen-gym", ProcgenVecEnv
        except ImportError:
            pass
    raise ImportError("No Procgen package is installed: `pip install -e .` installs procgen-mirror on Python "
                      "3.11/3.12 and procgen-gym on Python 3.13.")


class Games:
    """`num` Procgen games stepped together in C++: `act`, `observe`, and each game's state as bytes."""

    def __init__(self, num: int, env_name: str, distribution_mode: str, num_levels: int, start_level: int,
                 rand_seed: int):
        name, cls = _backend()
        kwargs = dict(env_name=env_name, distribution_mode=distribution_mode, num_levels=num_levels,
                      start_level=start_level, rand_seed=rand_seed)
        self.num = num
        if name == "procgen-mirror":
            self._env = cls(num=num, **kwargs)
            self._c = self._env                 # a gym3 CEnv: act/observe/call_c_func on the env itself
            self._gym3 = True
        else:
            self._env = cls(num_envs=num, **kwargs)   # held: closing it frees the C env
            self._c = self._env._clib           # procgen-gym's port of the same C env
            self._gym3 = False

    def observe(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reward [num], frames uint8 [num, 64, 64, 3], first [num]): first[i] when game i's episode just began."""
        if self._gym3:
            reward, obs, first = self._c.observe()
        else:
            first, obs, reward, _ = self._c.observe()
        return reward, obs["rgb"], first

    def act(self, action: np.ndarray) -> None:
        self._c.act(np.asarray(action, dtype=np.int32))

    def get_state(self) -> list[bytes]:
        """Each game's whole state (level, positions, its random generators)."""
        return self._env.get_state()

    def set_state(self, slot: int, state: bytes) -> None:
        """Write one game's state (from `get_state` of any env of the same game) into game `slot`."""
        self._c.call_c_func("set_state", int(slot), state, len(state))
