#!/usr/bin/env bash
# One command for a session that has a GPU for a few minutes: the Procgen benchmark and the gridworld suite
# benchmark, each under a timeout so the whole run ends within 8 minutes, their JSON written into OUTDIR.
#
#   bash benchmarks/device_check.sh OUTDIR [--quick | --smoke]
#
# Writes OUTDIR/procgen.json (bench_procgen.py: forward-pass ceilings; evaluation, overlap and PPO training too
# where a Procgen package is installed, which the GPU image lacks), OUTDIR/suite_quick.json (bench_suite.py
# --quick on distshift: one row per family at tiny budgets), then, in the time left, OUTDIR/suite.json (the
# whole distshift protocol, seed 0), and OUTDIR/device_check.json: each step's exit status and seconds.
# A step that times out writes nothing; the files of the steps before it stand. Exits 0 when procgen.json and
# a suite file were written. --quick: procgen --quick and the quick suite only. --smoke (the CI test, on CPU):
# the forward-pass ceilings of --quick and the quick suite's always_novice row.
#
# Python: $PYTHON, else python3 (on the GPU machine, the image's, with its own CUDA jax and numpy). The repo
# goes on PYTHONPATH (no pip install -e .); pure-Python packages the interpreter lacks come from the wheels in
# .whl/ (made here by benchmarks/device_wheels.sh), installed into a folder of $TMPDIR put on PYTHONPATH.
set -uo pipefail

usage() { echo "usage: bash benchmarks/device_check.sh OUTDIR [--quick | --smoke]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
OUTDIR=$1
MODE=${2:-full}
case "$MODE" in full | --quick | --smoke) ;; *) usage ;; esac
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd) || { echo "error: cannot create OUTDIR $1" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO/benchmarks" || exit 2
PY=${PYTHON:-python3}
BUDGET_S=${DEVICE_CHECK_BUDGET_S:-450}   # 8 minutes less a margin for the start and the wheels
START=$(date +%s)
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

deps_ok() { "$PY" -c 'import duo_jax, duo_jax.suite' 2>/dev/null; }   # what the benchmarks import
if ! deps_ok; then
  if ls "$REPO"/.whl/*.whl >/dev/null 2>&1; then
    SITE=${TMPDIR:-/tmp}/duo_jax_site
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
      "$REPO"/.whl/*.whl || exit 1
    export PYTHONPATH="$SITE:$PYTHONPATH"
  fi
  deps_ok || { echo "error: $PY cannot import duo_jax's dependencies; run bash benchmarks/device_wheels.sh here" \
               "first (it fills .whl/), and carry .whl to the device." >&2; exit 1; }
fi

echo "== device_check ($MODE) with $PY into $OUTDIR"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
# duo_jax first: it sets XLA_FLAGS as the benchmarks run with, so a backend that refuses them fails here, at once.
"$PY" -c 'import duo_jax, jax, numpy; print("jax", jax.__version__, "numpy", numpy.__version__, "backend",
jax.default_backend(), jax.devices())' || exit 1

STEPS=()
# step NAME LIMIT_S COMMAND...: runs COMMAND under `timeout` (its whole process group), at most LIMIT_S and
# never past the budget; records its exit status and seconds. 124: timed out.
step() {
  local name=$1 limit=$2; shift 2
  local left=$((BUDGET_S - ($(date +%s) - START)))
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 30 ]; then
    echo "== $name: skipped, ${left}s of the budget left"
    STEPS+=("{\"step\": \"$name\", \"rc\": null, \"seconds\": 0, \"note\": \"skipped: ${left}s of the budget left\"}")
    return
  fi
  echo "== $name (at most ${limit}s): $*"
  local t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@"
  local rc=$?
  echo "== $name: exit $rc after $(($(date +%s) - t0))s"
  STEPS+=("{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $(($(date +%s) - t0)), \"limit_s\": $limit}")
}

note="device_check.sh $MODE"
case "$MODE" in
  full)
    step procgen 120 "$PY" bench_procgen.py --out "$OUTDIR/procgen.json" --overwrite --note "$note"
    step suite_quick 180 "$PY" bench_suite.py --quick --envs distshift --out "$OUTDIR/suite_quick.json" \
      --overwrite --note "$note"
    step suite 600 "$PY" bench_suite.py --envs distshift --seeds 0 --out "$OUTDIR/suite.json" --overwrite \
      --note "$note" ;;
  --quick)
    step procgen 150 "$PY" bench_procgen.py --quick --out "$OUTDIR/procgen.json" --overwrite --note "$note"
    step suite_quick 250 "$PY" bench_suite.py --quick --envs distshift --out "$OUTDIR/suite_quick.json" \
      --overwrite --note "$note" ;;
  --smoke)
    step procgen 120 "$PY" bench_procgen.py --quick --ceilings-only --out "$OUTDIR/procgen.json" --overwrite \
      --note "$note"
    step suite_quick 200 "$PY" bench_suite.py --quick --methods always_novice --envs distshift \
      --out "$OUTDIR/suite_quick.json" --overwrite --note "$note" ;;
esac

{
  echo "{\"mode\": \"$MODE\", \"python\": \"$PY\", \"budget_s\": $BUDGET_S, \"seconds\": $(($(date +%s) - START)),"
  echo " \"steps\": [$(IFS=,; echo "${STEPS[*]}")]}"
} >"$OUTDIR/device_check.json"
echo "== wrote:"; ls -l "$OUTDIR"
[ -s "$OUTDIR/procgen.json" ] && { [ -s "$OUTDIR/suite_quick.json" ] || [ -s "$OUTDIR/suite.json" ]; }
