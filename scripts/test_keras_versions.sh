#!/usr/bin/env bash
# Runs the suite parts that lean on Keras the most under each Keras version of the matrix
# (one virtual environment each) on one backend, and prints a per-version summary.
# Exits non-zero if any version fails. `make test-keras-versions` sets it up and calls it.
#
#   KERAS_ENVS   "name=venv ..." pairs, e.g. "oldest=.venv-keras-min newest=.venv"
#   BACKEND      the Keras backend (default torch)
#   TESTS        the test paths
#   DESELECT_oldest, DESELECT_newest, ...  extra pytest arguments for one entry
#   PYTEST_ARGS  extra pytest arguments for every entry
set -u
KERAS_ENVS=${KERAS_ENVS:-"oldest=.venv-keras-min newest=.venv"}
BACKEND=${BACKEND:-torch}
TESTS=${TESTS:-"tests/layers tests/models/test_drifa_net.py tests/ensemble tests/explain tests/data"}
PYTEST_ARGS=${PYTEST_ARGS:-}
declare -A status summary elapsed version
failed=0
for entry in $KERAS_ENVS; do
  name=${entry%%=*}
  venv=${entry#*=}
  deselect_var="DESELECT_$name"
  deselect=${!deselect_var:-}
  version[$name]=$(KERAS_BACKEND=$BACKEND "$venv/bin/python" -c "import keras; print(keras.__version__)" 2>/dev/null || echo "?")
  echo "==================== $name: keras ${version[$name]} ($venv), KERAS_BACKEND=$BACKEND ===================="
  log=$(mktemp)
  start=$(date +%s)
  # shellcheck disable=SC2086
  KERAS_BACKEND=$BACKEND "$venv/bin/python" -m pytest -q -p no:cacheprovider $TESTS $deselect $PYTEST_ARGS 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  elapsed[$name]=$(( $(date +%s) - start ))
  summary[$name]=$(grep -E '(passed|failed|error)' "$log" | tail -n 1 | sed 's/=//g; s/^ *//; s/ *$//')
  rm -f "$log"
  if [ "$rc" -eq 0 ]; then status[$name]=PASS; else status[$name]="FAIL (exit $rc)"; failed=1; fi
done
echo
echo "==================== Keras version summary (KERAS_BACKEND=$BACKEND) ===================="
for entry in $KERAS_ENVS; do
  name=${entry%%=*}
  printf '%-7s keras %-8s %-14s %5ss  %s\n' "$name" "${version[$name]}" "${status[$name]}" "${elapsed[$name]}" "${summary[$name]}"
done
exit $failed
