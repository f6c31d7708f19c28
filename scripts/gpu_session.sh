#!/usr/bin/env bash
# Everything a GPU machine is asked for, in one run with a time limit per part (the device
# lease is short): the single-GPU path of the distributed example, the paper-configuration
# check (scripts/gpu_check.sh) and the scaling benchmark's 128x128 rows, per backend found.
# Usage: scripts/gpu_session.sh LOG_DIR [python]; BACKENDS="jax torch" to choose backends.
# Each part's output goes to LOG_DIR/<part>-<backend>.log and to stdout. DEADLINE (seconds,
# default 540) bounds the whole run: a part gets at most what is left, and none starts with
# under 20 s left.
set -u
LOG=${1:?usage: scripts/gpu_session.sh LOG_DIR [python]}
PYTHON=${2:-${PYTHON:-python3}}
BACKENDS=${BACKENDS:-"torch jax tensorflow"}
DEADLINE=${DEADLINE:-540}
cd "$(dirname "$0")/.." || exit 1
mkdir -p "$LOG"
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3

part() {  # part NAME BACKEND SECONDS COMMAND...
  local name=$1 backend=$2 limit=$3 left=$((DEADLINE - SECONDS)); shift 3
  if [ "$left" -lt 20 ]; then echo "---- $name on $backend: skipped, ${left}s left"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "==================== $name, KERAS_BACKEND=$backend (limit ${limit}s) ===================="
  local start=$SECONDS
  KERAS_BACKEND=$backend timeout -k 10 "$limit" "$@" 2>&1 | tee "$LOG/$name-$backend.log" \
    | grep -vE '^(WARNING|I0000|W0000|E0000)'
  echo "---- $name on $backend: exit ${PIPESTATUS[0]} after $((SECONDS - start)) s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$LOG/gpu.txt"
"$PYTHON" - <<'PY' 2>&1 | tee -a "$LOG/gpu.txt"
from importlib import metadata
for name in ("keras", "jax", "jaxlib", "torch", "tensorflow"):
    try:
        print(name, metadata.version(name))
    except metadata.PackageNotFoundError:
        print(name, "not installed")
PY
available() { "$PYTHON" -c "import $1" 2>/dev/null; }
for backend in $BACKENDS; do
  available "$backend" || { echo "$backend is not installed here: skipped"; continue; }
  ckpt=$(mktemp -d)
  if [ "$backend" = torch ]; then
    part distributed torch 150 "$PYTHON" -m torch.distributed.run --standalone \
      --nproc_per_node=1 examples/distributed_training.py --checkpoint-dir "$ckpt"
  else
    part distributed "$backend" 150 "$PYTHON" examples/distributed_training.py \
      --checkpoint-dir "$ckpt"
  fi
  part gpu_check "$backend" 240 "$PYTHON" benchmarks/gpu_check.py
done
for backend in $BACKENDS; do
  available "$backend" || continue
  part scaling "$backend" 240 "$PYTHON" benchmarks/scaling.py --base-size 128 --steps 5 \
    --row-timeout 120
done
