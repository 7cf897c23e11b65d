#!/usr/bin/env bash
# Create (or update) a stack's virtual environment:
#   bash setup_env.sh tf2   -> .venv/      TensorFlow 2.x, Python 3.9-3.13 (default)
#   bash setup_env.sh tf1   -> .venv-tf1/  TensorFlow 1.15.5, Python 3.7
#   bash setup_env.sh tf2-horovod -> .venv-tf2-horovod/  TensorFlow 2.12.1 + Horovod, Python 3.9-3.11
#                              (distributed training on TF 2.x; always builds Horovod)
# Re-running is cheap: nothing is installed while the requirements file is unchanged.
# Set PYTHON_TF2 / PYTHON_TF1 to choose the interpreter yourself.
set -euo pipefail
cd "$(dirname "$0")"
STACK=${1:-tf2}
die() { echo "setup_env.sh: error: $*" >&2; exit 2; }
. ./stacks.sh
VENV=$(stack_venv "$STACK") || die "unknown stack '$STACK': use tf2, tf1 or tf2-horovod"
REQ=$(stack_requirements "$STACK")

version_ok() {  # version_ok PYTHON MIN_MINOR MAX_MINOR
  "$1" -c "import sys; sys.exit(not (sys.version_info[0] == 3 and $2 <= sys.version_info[1] <= $3))" 2>/dev/null
}

find_python() {  # find_python MIN_MINOR MAX_MINOR PREFERRED...
  local lo=$1 hi=$2 cand v; shift 2
  for cand in "$@"; do
    if command -v "$cand" >/dev/null 2>&1 && version_ok "$cand" "$lo" "$hi"; then command -v "$cand"; return 0; fi
  done
  if command -v pyenv >/dev/null 2>&1; then  # interpreters installed by pyenv but not selected
    for v in $(pyenv versions --bare 2>/dev/null | grep -E "^3\.[0-9]+\.[0-9]+$" | sort -t. -k2,2nr); do
      cand="$(pyenv root)/versions/$v/bin/python3"
      if [ -x "$cand" ] && version_ok "$cand" "$lo" "$hi"; then echo "$cand"; return 0; fi
    done
  fi
  return 1
}

case "$STACK" in
  tf2) PY=${PYTHON_TF2:-$(find_python 9 13 python3.11 python3.12 python3.10 python3 || true)}
       [ -n "$PY" ] || die "no Python 3.9-3.13 found for the TF 2.x stack; install one (e.g. pyenv install 3.11) or set PYTHON_TF2=" ;;
  tf1) PY=${PYTHON_TF1:-$(find_python 7 7 python3.7 || true)}
       [ -n "$PY" ] || die "no Python 3.7 found for the TF 1.15 stack; install it (e.g. pyenv install 3.7.16) or set PYTHON_TF1=" ;;
  tf2-horovod) WITH_HOROVOD=1
       PY=${PYTHON_TF2:-$(find_python 9 11 python3.11 python3.10 python3.9 python3 || true)}
       [ -n "$PY" ] || die "no Python 3.9-3.11 found for TF 2.12 (tf2-horovod); install one (e.g. pyenv install 3.11) or set PYTHON_TF2=" ;;
esac

STAMP="$VENV/.requirements.sha256"
WANT=$(sha256sum "$REQ" | cut -d' ' -f1)
if ! { [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; }; then
echo "setting up $VENV ($STACK) with $("$PY" --version 2>&1) from $REQ ..."
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
echo "$WANT" > "$STAMP"
echo "$VENV ready: $("$VENV/bin/python" -c 'import os; os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"; import tensorflow as tf; print("TensorFlow", tf.__version__)' 2>/dev/null)"
fi

# Horovod (distributed=True): WITH_HOROVOD=1 bash setup_env.sh tf1, and always tf2-horovod, build it
# from source against the installed TensorFlow, CPU/Gloo only (2-6 minutes on 2 cores; needs a C++
# compiler and cmake). On a GPU machine add HOROVOD_GPU_OPERATIONS=NCCL (with CUDA and NCCL installed).
# Horovod 0.28.1 does not build against TF 2.21 (docs/training.md), so tf2 never builds it.
if [ "${WITH_HOROVOD:-0}" = 1 ] && [ "$STACK" != tf2 ]; then
  if "$VENV/bin/python" -c "import horovod.tensorflow" 2>/dev/null; then exit 0; fi
  echo "building Horovod 0.28.1 for $VENV (Gloo, CPU${HOROVOD_GPU_OPERATIONS:+, $HOROVOD_GPU_OPERATIONS}; a few minutes) ..."
  # built in the venv itself (no build isolation): its setup.py must import the installed TensorFlow
  if ! { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check wheel &&
         HOROVOD_WITH_TENSORFLOW=1 HOROVOD_WITH_GLOO=1 HOROVOD_WITHOUT_MPI=1 HOROVOD_WITHOUT_PYTORCH=1 \
         HOROVOD_WITHOUT_MXNET=1 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
         --no-cache-dir --no-build-isolation horovod==0.28.1; } > "$VENV/horovod-build.log" 2>&1; then
    tail -n 20 "$VENV/horovod-build.log" >&2
    echo "setup_env.sh: warning: the Horovod build failed (log: $VENV/horovod-build.log); distributed=True will not work" >&2
    exit 3
  fi
  echo "Horovod ready: $("$VENV/bin/horovodrun" --check-build 2>/dev/null | grep -E '\[X\] (TensorFlow|Gloo)' | tr -s ' \n' ' ')"
fi
