#!/usr/bin/env bash
# Runs the test suite once per Keras backend and prints a per-backend summary.
# Exits non-zero if any backend fails.
set -u
PYTHON=${PYTHON:-python}
BACKENDS=${BACKENDS:-"tensorflow jax torch"}
PYTEST_ARGS=${PYTEST_ARGS:-}
declare -A status summary elapsed
failed=0
for backend in $BACKENDS; do
  echo "==================== KERAS_BACKEND=$backend ===================="
  log=$(mktemp)
  start=$(date +%s)
  # shellcheck disable=SC2086
  KERAS_BACKEND=$backend "$PYTHON" -m pytest -q -p no:cacheprovider $PYTEST_ARGS 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  elapsed[$backend]=$(( $(date +%s) - start ))
  summary[$backend]=$(grep -E '(passed|failed|error)' "$log" | tail -n 1 | sed 's/=//g; s/^ *//; s/ *$//')
  rm -f "$log"
  if [ "$rc" -eq 0 ]; then status[$backend]=PASS; else status[$backend]="FAIL (exit $rc)"; failed=1; fi
done
echo
echo "==================== per-backend summary ===================="
for backend in $BACKENDS; do
  printf '%-11s %-14s %5ss  %s\n' "$backend" "${status[$backend]}" "${elapsed[$backend]}" "${summary[$backend]}"
done
exit $failed
