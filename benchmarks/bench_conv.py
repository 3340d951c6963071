"""Benchmark: the agents' networks alone — forward and forward+backward images/s on whatever JAX runs it.

    python benchmarks/bench_conv.py [--label NAME] [--xla-flags "..."] [--out PATH] [--overwrite]

Times `small_cnn` and `impala_cnn` (duo_jax.agents.models) at batch 64 and 256: the jitted forward pass, and
the gradient of the PPO loss (forward + backward, no optimizer), in float32 and in bfloat16 (params and
frames cast inside jit). Run it under several JAX versions and XLA flags to see what moves the IMPALA
backward pass; each run writes benchmarks/results/local/conv_<label>.json (or --out; the published numbers are
benchmarks/results/conv_*.json). `--xla-flags` is put into XLA_FLAGS before JAX starts.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

from common import output, parser, version  # benchmarks/common.py


def main() -> None:
    ap = parser(__doc__, "conv_<label>.json")
    ap.add_argument("--label", default=None, help="results name (default: jax<version>)")
    ap.add_argument("--xla-flags", default="", help="XLA_FLAGS for this run")
    ap.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = ap.parse_args()
    label = args.label or f"jax{version('jax')}"
    out = output(args, f"conv_{label}.json")
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + args.xla_flags).strip()

    import jax
    import jax.numpy as jnp
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from duo_jax.agents.models import ImpalaCNN, SmallCNN

    def rate(fn, *xs, batch: int) -> float:
        jax.block_until_ready(fn(*xs))
        times, end = [], time.perf_counter() + args.seconds
        while time.perf_counter() < end or len(times) < 3:
            t = time.perf_counter()
            jax.block_until_ready(fn(*xs))
            times.append(time.perf_counter() - t)
        return batch / float(np.median(times))

    rows = []
    for name, module in (("small_cnn", SmallCNN(15)), ("impala_cnn", ImpalaCNN(15))):
        params = module.init(jax.random.PRNGKey(0), jnp.zeros((1, 64, 64, 3), jnp.uint8))
        for dtype in (jnp.float32, jnp.bfloat16):
            def apply(p, obs, dtype=dtype, module=module):
                p = jax.tree_util.tree_map(lambda leaf: leaf.astype(dtype), p)
                logits, value, _ = module.apply(p, obs)
                return logits.astype(jnp.float32), value.astype(jnp.float32)

            def loss(p, obs, action, ret):
                logits, value = apply(p, obs)
                logp = jnp.take_along_axis(jax.nn.log_softmax(logits), action[:, None], -1)[:, 0]
                return -logp.mean() + 0.5 * ((value - ret) ** 2).mean()

            fwd, grad = jax.jit(apply), jax.jit(jax.grad(loss))
            for batch in (64, 256):
                rng = np.random.default_rng(batch)
                obs = jnp.asarray(rng.integers(0, 255, (batch, 64, 64, 3)), jnp.uint8)
                action, ret = jnp.asarray(rng.integers(0, 15, batch)), jnp.ones(batch)
                row = {"model": name, "dtype": jnp.dtype(dtype).name, "batch": batch,
                       "forward_images_per_s": rate(fwd, params, obs, batch=batch),
                       "forward_backward_images_per_s": rate(grad, params, obs, action, ret, batch=batch),
                       "loadavg": [round(x, 2) for x in os.getloadavg()]}
                print(json.dumps(row), flush=True)
                rows.append(row)
    out.write_text(json.dumps({
        "meta": {"timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                 "jax": jax.__version__, "python": platform.python_version(), "numpy": np.__version__,
                 "xla_flags": os.environ["XLA_FLAGS"], "backend": jax.default_backend(), "cpu_count": os.cpu_count()},
        "rows": rows}, indent=1))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
