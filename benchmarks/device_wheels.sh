#!/usr/bin/env bash
# Downloads into .whl/ (git-ignored) the pure-Python wheels that duo_jax needs on the GPU machine and that its
# image lacks; benchmarks/device_check.sh installs them there with `pip install --no-index --target`.
# The image (Python 3.12, CUDA jax 0.11.2, numpy 2.5, flax, optax, orbax-checkpoint, chex, absl-py, matplotlib,
# scipy, pandas, tqdm, pyyaml, protobuf, cloudpickle) keeps its own jax and numpy: only these travel.
# Run here, with network, before a session with a device:  bash benchmarks/device_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=(ml-collections==1.1.0 tensorboardX==2.6.5)   # what `import duo_jax, duo_jax.suite` lacks there
PY=${PYTHON:-python3}
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "${WHEELS[@]}"
ls -l .whl
