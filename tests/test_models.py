"""The registered Procgen networks: each maps uint8 frames to (logits, value, hidden) of the right shapes."""
import jax
import jax.numpy as jnp
import pytest

from duo_jax.agents.agent import init_agent


@pytest.mark.parametrize("model, hidden", [("small_cnn", 256), ("nature_cnn", 512), ("impala_cnn", 256)])
def test_procgen_models_give_logits_value_and_hidden(model, hidden):
    agent = init_agent(jax.random.PRNGKey(0), model, 15, (64, 64, 3))
    frames = jax.random.randint(jax.random.PRNGKey(1), (3, 64, 64, 3), 0, 256).astype(jnp.uint8)
    logits, value, h = agent.apply(agent.params, frames)
    assert logits.shape == (3, 15) and value.shape == (3,) and h.shape == (3, hidden)
    assert jnp.isfinite(logits).all() and jnp.isfinite(value).all()
    assert not jnp.allclose(logits[0], logits[1])   # the frames reach the heads
