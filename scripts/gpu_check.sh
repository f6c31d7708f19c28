#!/usr/bin/env bash
# The GPU check of the paper configuration (128x128, mixed precision), once per backend:
# first step, steady pairs/s, peak device memory, predict_uncertainty and GradCAM.
# Usage: scripts/gpu_check.sh [python] ; BACKENDS="jax torch" to choose backends.
set -u
PYTHON=${1:-${PYTHON:-python}}
BACKENDS=${BACKENDS:-"tensorflow jax torch"}
cd "$(dirname "$0")/.." || exit 1
status=0
for backend in $BACKENDS; do
  echo "==================== KERAS_BACKEND=$backend ===================="
  KERAS_BACKEND=$backend "$PYTHON" benchmarks/gpu_check.py || status=1
done
exit $status
