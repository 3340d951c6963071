"""What a learned coordinator (PPO, Deep SVDD) sees: the feature types of YRC-Bench.

A feature type names the parts of the coordinator observation it uses, joined by "_":
`obs` (the frame), `hidden` (the novice's hidden layer), `dist` (softmax of the novice's logits).
`extract` turns a coordinator observation into {"obs": uint8 frames} and/or {"vec": float vector},
and `FeatureEncoder` embeds that dict; the reference crashed on every `hidden` type, here all train.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

MIN_CONV_SIZE = 20  # smaller frames skip the CNN (its two strided convolutions need at least 20x20)
FEATURE_TYPES = ("obs", "hidden", "dist", "hidden_obs", "hidden_dist", "obs_dist", "obs_hidden_dist")


def check_feature_type(feature_type: str, field: str) -> None:
    if feature_type not in FEATURE_TYPES:
        raise ValueError(f"{field} must be one of {', '.join(FEATURE_TYPES)}; got {feature_type!r}.")


def parts(feature_type: str) -> tuple[str, ...]:
    return tuple(feature_type.split("_"))


_READS = {"obs": "base_obs", "hidden": "novice_hidden", "dist": "novice_logits"}


def feature_reads(feature_type: str) -> frozenset:
    """The coordinator observation's parts a feature type reads (a policy's `reads`)."""
    return frozenset(_READS[name] for name in parts(feature_type))


def extract(cobs: dict, feature_type: str) -> dict:
    """{"obs": frames [B, H, W, C] uint8} and/or {"vec": [B, D] float32} from a coordinator observation."""
    out, vec = {}, []
    names = parts(feature_type)
    if "obs" in names:
        out["obs"] = cobs["base_obs"]
    if "hidden" in names:
        vec.append(cobs["novice_hidden"].astype(jnp.float32))
    if "dist" in names:
        vec.append(jax.nn.softmax(cobs["novice_logits"].astype(jnp.float32), axis=-1))
    if vec:
        out["vec"] = jnp.concatenate(vec, axis=-1)
    return out


class FeatureEncoder(nn.Module):
    """Frames through a small CNN (as the shipped agents), small views through a dense layer, vectors as
    they are; concatenated.

    `use_bias=False` gives the bias-free network Deep SVDD needs (a bias lets it map every
    input onto the centre).
    """

    embed_dim: int = 256
    use_bias: bool = True

    @nn.compact
    def __call__(self, features: dict) -> jnp.ndarray:
        out = []
        if "obs" in features:
            obs = features["obs"]
            x = obs.astype(jnp.float32) / 255.0
            if obs.shape[1] >= MIN_CONV_SIZE:
                x = nn.relu(nn.Conv(16, (8, 8), (4, 4), padding="VALID", use_bias=self.use_bias)(x))
                x = nn.relu(nn.Conv(32, (4, 4), (2, 2), padding="VALID", use_bias=self.use_bias)(x))
            else:  # small symbolic views (MiniGrid's 7x7x3 codes): a dense layer over the raw values
                x = obs.astype(jnp.float32)
            x = x.reshape(x.shape[0], -1)
            out.append(nn.relu(nn.Dense(self.embed_dim, use_bias=self.use_bias)(x)))
        if "vec" in features:
            out.append(features["vec"])
        return jnp.concatenate(out, axis=-1)
