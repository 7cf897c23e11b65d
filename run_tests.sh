#!/usr/bin/env bash
# Run the test suite on both TensorFlow stacks (setting up .venv/ and .venv-tf1/ as needed):
#   bash run_tests.sh            # both stacks
#   bash run_tests.sh tf2        # one stack; extra words go to pytest, e.g. bash run_tests.sh tf1 -k parser
set -uo pipefail
cd "$(dirname "$0")"
STACKS="tf2 tf1"
if [ $# -gt 0 ] && { [ "$1" = tf1 ] || [ "$1" = tf2 ]; }; then STACKS=$1; shift; fi
status=0
for stack in $STACKS; do
  # the TF 1.15 stack also builds Horovod for the distributed-training tests (WITH_HOROVOD=0: skip
  # them); a failed Horovod build is a warning, and those tests then skip saying so
  setup_rc=0
  if [ "$stack" = tf1 ]; then WITH_HOROVOD=${WITH_HOROVOD:-1} bash setup_env.sh tf1 || setup_rc=$?
  else bash setup_env.sh "$stack" || setup_rc=$?; fi
  if [ $setup_rc -ne 0 ] && [ $setup_rc -ne 3 ]; then exit 2; fi
  if [ "$stack" = tf1 ]; then PY=.venv-tf1/bin/python; else PY=.venv/bin/python; fi
  echo "== tests on $stack: $("$PY" -c 'import os; os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"; import sys, tensorflow as tf; print("TensorFlow", tf.__version__, "Python", sys.version.split()[0])' 2>/dev/null)"
  "$PY" -m pytest -q -p no:cacheprovider tests "$@"
  rc=$?
  # pytest exits 5 when it collected no test: that is a failure too
  if [ $rc -ne 0 ]; then echo "== $stack: pytest exited $rc" >&2; status=1; fi
done
exit $status
