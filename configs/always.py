"""Always one agent: `--config.algorithm.agent=novice` or `expert`."""
from duo_jax.config import base_config


def get_config():
    c = base_config()
    c.name = "always_expert"
    c.policy.name = "always"
    c.algorithm.name = "always"
    c.algorithm.agent = "expert"
    return c
