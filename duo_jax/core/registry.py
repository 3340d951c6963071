"""Name -> constructor registries, so configs can name policies, algorithms, envs and models."""
from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

from duo_jax.validate import some_of

T = TypeVar("T")

# Modules whose functions register on behalf of their caller: a registration's place is the first frame
# outside them.
_REGISTRARS = {"duo_jax.core.registry", "duo_jax.coordinators.grid_search"}


def _caller_place() -> str:
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") in _REGISTRARS:
        frame = frame.f_back
    if frame is None:
        return "?"
    path = os.path.relpath(frame.f_code.co_filename)  # short inside the working directory, else in full
    return f"{path if not path.startswith('..') else os.path.abspath(path)}:{frame.f_lineno}"


class Registry(Generic[T]):
    """A dict of named entries whose failed look-ups list the registered names.

    A name is registered once: a second registration is an error naming both places, unless it says
    `override=True` (a plugin replacing a built-in on purpose).
    """

    def __init__(self, kind: str, plural: str):
        self.kind, self.plural = kind, plural
        self._entries: dict[str, T] = {}
        self._places: dict[str, str] = {}

    def register(self, name: str, entry: T, override: bool = False) -> T:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}.")
        place = _caller_place()
        if name in self._entries and not override:
            raise ValueError(
                f"{self.kind} {name!r} is already registered (at {self._places[name]}); registering it again at "
                f"{place} needs override=True."
            )
        self._entries[name], self._places[name] = entry, place
        return entry

    def place(self, name: str) -> str:
        """Where `name` was registered (file:line)."""
        return self._places[name]

    def check(self, name: str, field: str) -> None:
        """`name` (the value of config field `field`) is registered; else one sentence naming the field."""
        try:
            self.get(name)
        except ValueError as err:
            raise ValueError(f"{field}: {err}") from None

    def get(self, name: str) -> T:
        if name not in self._entries:
            near = difflib.get_close_matches(str(name), self.names(), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ValueError(
                f"Unknown {self.kind} {name!r}; {hint}registered {self.plural} are: {some_of(self.names())} "
                f"(register your own in a file listed in --config.plugins)."
            )
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries


class AlgorithmSpec(NamedTuple):
    """`run(key, policy, task, validators, config) -> AlgorithmResult`; `check(config)` raises on bad config.

    `candidates(key, policy, task, config) -> [params]` is set for grid searches, whose candidates do not
    depend on the costs: a cost sweep then rolls each candidate out once and scores it at every alpha.
    `alpha_sweep(key, policy, task, validators, config, alphas) -> [AlgorithmResult]`, if set, trains the
    algorithm for every alpha of a cost sweep at once on a JAX-native env (vmapped over alphas).
    """

    run: Callable
    check: Callable
    candidates: Callable | None = None
    alpha_sweep: Callable | None = None


def _no_check(config) -> None:
    del config


ALGORITHMS: Registry[AlgorithmSpec] = Registry("algorithm", "algorithms")
POLICIES: Registry[Callable] = Registry("policy", "policies")
ENVIRONMENTS: Registry[Callable] = Registry("environment", "environments")
MODELS: Registry[Callable] = Registry("model", "models")


def register_algorithm(name: str, fn: Callable | None = None, *, check: Callable | None = None,
                       candidates: Callable | None = None, alpha_sweep: Callable | None = None,
                       override: bool = False):
    """Register `fn(key, policy, task, validators, config) -> AlgorithmResult`; usable as a decorator.

    `check(config)` runs at start-up, before any work, and raises ValueError on bad config.
    `override=True` replaces an algorithm already registered under `name`.
    """

    def add(f):
        ALGORITHMS.register(name, AlgorithmSpec(f, check or _no_check, candidates, alpha_sweep), override)
        return f

    return add if fn is None else add(fn)


def _registrar(registry: Registry):
    def register(name: str, entry: Callable | None = None, *, override: bool = False):
        if entry is None:
            return lambda f: registry.register(name, f, override)
        return registry.register(name, entry, override)

    return register


register_policy = _registrar(POLICIES)
register_policy.__doc__ = "Register `factory(policy_config) -> Policy`; usable as a decorator."
register_environment = _registrar(ENVIRONMENTS)
register_environment.__doc__ = "Register `factory(env_config) -> EnvFamily`; usable as a decorator."
register_model = _registrar(MODELS)
register_model.__doc__ = "Register a flax module class `cls(num_actions=...)`; usable as a decorator."
