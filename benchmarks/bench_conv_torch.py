"""Benchmark: the same two networks in PyTorch (the reference's framework), for bench_conv.py to stand beside.

    pip install torch   # not a duo_jax dependency
    python benchmarks/bench_conv_torch.py [--out PATH] [--overwrite]

IMPALA CNN (channels 16/32/32, two residual blocks per stage, 256 hidden) and the small CNN, NHWC uint8
frames scaled inside the model as in duo_jax; forward (no grad) and forward + backward of the same loss as
bench_conv.py, batch 64 and 256, float32, on `torch.get_num_threads()` threads. Writes
benchmarks/results/local/conv_torch<version>.json (or --out; the published numbers are
benchmarks/results/conv_torch*.json).
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import time

import numpy as np
from common import output, parser, version  # benchmarks/common.py


def networks():
    """(Small, Impala): the two networks as torch modules; torch is imported only here, once the command line
    has been read (so --help works without it)."""
    import torch
    from torch import nn

    class ResBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1)

        def forward(self, x):
            return x + self.c2(torch.relu(self.c1(torch.relu(x))))

    class Impala(nn.Module):
        def __init__(self, num_actions=15, channels=(16, 32, 32)):
            super().__init__()
            layers, cin = [], 3
            for c in channels:
                layers += [nn.Conv2d(cin, c, 3, padding=1), nn.MaxPool2d(3, 2, padding=1), ResBlock(c), ResBlock(c)]
                cin = c
            self.body = nn.Sequential(*layers)
            self.fc = nn.Linear(cin * 8 * 8, 256)
            self.pi, self.v = nn.Linear(256, num_actions), nn.Linear(256, 1)

        def forward(self, obs):
            x = self.body(obs.permute(0, 3, 1, 2).float() / 255.0)
            h = torch.relu(self.fc(torch.relu(x).flatten(1)))
            return self.pi(h), self.v(h)[:, 0]

    class Small(nn.Module):
        def __init__(self, num_actions=15):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(3, 16, 8, 4), nn.Conv2d(16, 32, 4, 2)
            self.fc = nn.Linear(32 * 6 * 6, 256)
            self.pi, self.v = nn.Linear(256, num_actions), nn.Linear(256, 1)

        def forward(self, obs):
            x = torch.relu(self.c2(torch.relu(self.c1(obs.permute(0, 3, 1, 2).float() / 255.0))))
            h = torch.relu(self.fc(x.flatten(1)))
            return self.pi(h), self.v(h)[:, 0]

    return Small, Impala


def rate(fn, batch: int, seconds: float = 3.0) -> float:
    fn()
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return batch / float(np.median(times))


def main() -> None:
    args = parser(__doc__, "conv_torch<version>.json").parse_args()
    torch_version = version("torch")
    if torch_version is None:
        raise SystemExit("error: PyTorch is not installed (pip install torch; it is not a duo_jax dependency).")
    out = output(args, f"conv_torch{torch_version.split('+')[0]}.json")
    import torch

    Small, Impala = networks()
    rows = []
    for name, net in (("small_cnn", Small()), ("impala_cnn", Impala())):
        for batch in (64, 256):
            rng = np.random.default_rng(batch)
            obs = torch.from_numpy(rng.integers(0, 255, (batch, 64, 64, 3), dtype=np.uint8))
            action = torch.from_numpy(rng.integers(0, 15, batch))
            ret = torch.ones(batch)

            def forward(net=net, obs=obs):
                with torch.no_grad():
                    net(obs)

            def backward(net=net, obs=obs, action=action, ret=ret):
                net.zero_grad()
                logits, value = net(obs)
                logp = torch.log_softmax(logits, -1).gather(1, action[:, None])[:, 0]
                (-logp.mean() + 0.5 * ((value - ret) ** 2).mean()).backward()

            row = {"model": name, "dtype": "float32", "batch": batch, "forward_images_per_s": rate(forward, batch),
                   "forward_backward_images_per_s": rate(backward, batch),
                   "loadavg": [round(x, 2) for x in os.getloadavg()]}
            print(json.dumps(row), flush=True)
            rows.append(row)
    out.write_text(json.dumps({
        "meta": {"timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                 "torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
                 "cpu_count": os.cpu_count()},
        "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
