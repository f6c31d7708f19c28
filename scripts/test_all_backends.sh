#!/usr/bin/env bash
# Runs the test suite once per Keras backend and prints a per-backend summary.
# Exits non-zero if any backend fails.
#
# The backends run in LANES (default 2) lanes at once: the first lane takes JAX, whose
# suite is the longest (XLA compiles on about one core), the other lanes the remaining
# backends one after the other. On a 2-core machine this uses the second core, which one
# backend's suite mostly leaves idle. LANES=1 runs them one after the other. Each
# backend's output is kept in a log and printed whole at the end (a line says when each
# suite ends).
set -u
PYTHON=${PYTHON:-python}
BACKENDS=${BACKENDS:-"tensorflow jax torch"}
PYTEST_ARGS=${PYTEST_ARGS:-}
LANES=${LANES:-2}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

run_backend() {
  local backend=$1 start rc
  start=$(date +%s)
  # shellcheck disable=SC2086
  KERAS_BACKEND=$backend "$PYTHON" -m pytest -q -p no:cacheprovider $PYTEST_ARGS \
    > "$logs/$backend.log" 2>&1
  rc=$?
  echo "$rc $(( $(date +%s) - start ))" > "$logs/$backend.status"
  echo "KERAS_BACKEND=$backend: suite ended (exit $rc) after $(( $(date +%s) - start ))s"
}

run_lane() {
  local backend
  for backend in "$@"; do run_backend "$backend"; done
}

# Lane 0 gets JAX when it is asked for (the longest suite); the others share the rest.
declare -a lanes
lane_count=$LANES
for backend in $BACKENDS; do
  if [ "$backend" = jax ] && [ "$lane_count" -gt 1 ]; then
    lanes[0]="${lanes[0]:-} jax"
  fi
done
i=0
for backend in $BACKENDS; do
  if [ "$backend" = jax ] && [ "$lane_count" -gt 1 ]; then continue; fi
  if [ "$lane_count" -gt 1 ]; then
    lane=$(( 1 + i % (lane_count - 1) ))
  else
    lane=0
  fi
  lanes[$lane]="${lanes[$lane]:-} $backend"
  i=$(( i + 1 ))
done

start=$(date +%s)
pids=()
for lane in "${!lanes[@]}"; do
  # shellcheck disable=SC2086
  run_lane ${lanes[$lane]} &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

for backend in $BACKENDS; do
  echo "==================== KERAS_BACKEND=$backend ===================="
  cat "$logs/$backend.log"
done
echo
echo "==================== per-backend summary ===================="
failed=0
for backend in $BACKENDS; do
  rc=1 seconds=0
  [ -f "$logs/$backend.status" ] && read -r rc seconds < "$logs/$backend.status"
  summary=$(grep -E '(passed|failed|error)' "$logs/$backend.log" | tail -n 1 | sed 's/=//g; s/^ *//; s/ *$//')
  if [ "$rc" -eq 0 ]; then status=PASS; else status="FAIL (exit $rc)"; failed=1; fi
  printf '%-11s %-14s %5ss  %s\n' "$backend" "$status" "$seconds" "$summary"
done
echo "all backends: $(( $(date +%s) - start ))s wall-clock, $LANES lane(s)"
exit $failed
