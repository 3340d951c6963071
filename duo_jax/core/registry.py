"""Name -> constructor registries, so configs can name policies, algorithms, envs and models."""
from __future__ import annotations

from typing import Callable, Generic, NamedTuple, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict of named entries whose failed look-ups list the registered names."""

    def __init__(self, kind: str, plural: str):
        self.kind, self.plural = kind, plural
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}.")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise ValueError(
                f"Unknown {self.kind} {name!r}; registered {self.plural} are: {', '.join(self.names())} "
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
                       candidates: Callable | None = None, alpha_sweep: Callable | None = None):
    """Register `fn(key, policy, task, validators, config) -> AlgorithmResult`; usable as a decorator.

    `check(config)` runs at start-up, before any work, and raises ValueError on bad config.
    """

    def add(f):
        ALGORITHMS.register(name, AlgorithmSpec(f, check or _no_check, candidates, alpha_sweep))
        return f

    return add if fn is None else add(fn)


def _registrar(registry: Registry):
    def register(name: str, entry: Callable | None = None):
        if entry is None:
            return lambda f: registry.register(name, f)
        return registry.register(name, entry)

    return register


register_policy = _registrar(POLICIES)
register_policy.__doc__ = "Register `factory(policy_config) -> Policy`; usable as a decorator."
register_environment = _registrar(ENVIRONMENTS)
register_environment.__doc__ = "Register `factory(env_config) -> EnvFamily`; usable as a decorator."
register_model = _registrar(MODELS)
register_model.__doc__ = "Register a flax module class `cls(num_actions=...)`; usable as a decorator."
