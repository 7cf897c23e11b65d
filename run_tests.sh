#!/usr/bin/env bash
# Run the linter and the test suite on the TensorFlow stacks (setting up .venv/, .venv-tf1/ and
# .venv-tf2-horovod/ as needed):
#   bash run_tests.sh            # ruff, then every stack: tf2 and tf1 run the whole suite, tf2-horovod
#                                # the training and Horovod tests (the one thing that stack is for)
#   bash run_tests.sh tf2        # one stack; extra words go to pytest, e.g. bash run_tests.sh tf1 -k parser
set -uo pipefail
cd "$(dirname "$0")"
. ./stacks.sh
STACKS=$STACK_NAMES
if [ $# -gt 0 ] && stack_venv "$1" >/dev/null; then STACKS=$1; shift; fi
status=0
linted=0
# Set every stack up before any test runs: some tests run the other stack's Python (graphs written
# on TF 1.15 read on TF 2.x and back), so both venvs must exist when either suite runs.
declare -A setup_rc
for stack in $STACKS; do
  # tf1 also builds Horovod for the distributed-training tests (WITH_HOROVOD=0: skip them), and
  # tf2-horovod always does. A failed Horovod build (exit 3) is a warning, and those tests then skip
  # saying so; under CI (CI=true) it fails the run, so that CI never passes without them.
  rc=0
  if [ "$stack" = tf1 ]; then WITH_HOROVOD=${WITH_HOROVOD:-1} bash setup_env.sh tf1 || rc=$?
  else bash setup_env.sh "$stack" || rc=$?; fi
  if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then exit 2; fi
  setup_rc[$stack]=$rc
done
for stack in $STACKS; do
  if [ "${setup_rc[$stack]}" -eq 3 ] && [ "${CI:-}" = true ]; then  # exit 3 only comes from a Horovod build that was asked for
    echo "== $stack: the Horovod build failed under CI" >&2; status=1; continue
  fi
  PY=$(stack_venv "$stack")/bin/python
  TESTS="tests"
  [ "$stack" = tf2-horovod ] && TESTS="tests/test_horovod.py tests/test_train_basics.py tests/test_train_bad_input.py tests/test_train_recovery.py tests/test_train_pools.py"
  if [ $linted = 0 ]; then  # the style check (ruff.toml), once, with the first stack's ruff
    linted=1
    echo "== ruff: $("$PY" -m ruff --version)"
    "$PY" -m ruff check . || { echo "== ruff found problems" >&2; status=1; }
  fi
  echo "== tests on $stack: $("$PY" -c 'import os; os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"; import sys, tensorflow as tf; print("TensorFlow", tf.__version__, "Python", sys.version.split()[0])' 2>/dev/null)"
  # shellcheck disable=SC2086
  "$PY" -m pytest -q -p no:cacheprovider $TESTS "$@"
  rc=$?
  # pytest exits 5 when it collected no test: that is a failure too
  if [ $rc -ne 0 ]; then echo "== $stack: pytest exited $rc" >&2; status=1; fi
done
exit $status
