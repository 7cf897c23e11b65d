#!/usr/bin/env bash
# Convert a frozen graph (.pb, Placeholder -> output_l0) to TFLite with tflite_convert.
#
#   bash pb2tflite.sh [GRAPH.pb] [OUT.tflite] [INPUT_SHAPE]
#   defaults: models/original/punet_pretrained.pb models/original/punet_pretrained.tflite 1,544,960,4
#
# Works on either stack: the Python in $PYTHON (default: python) decides; on TF 2.x the TF1
# graph converter needs --enable_v1_converter. INPUT_SHAPE is 1,H/2,W/2,4 for an HxW photo.
set -euo pipefail
PB=${1:-models/original/punet_pretrained.pb}
OUT=${2:-models/original/punet_pretrained.tflite}
SHAPE=${3:-1,544,960,4}
PY=${PYTHON:-python}

die() { echo "pb2tflite.sh: error: $*" >&2; exit 2; }
[ -f "$PB" ] || die "frozen graph '$PB' not found (write one with test_model.py save=True or ckpt2pb.py)"
[[ "$SHAPE" =~ ^1,[0-9]+,[0-9]+,4$ ]] || die "input shape '$SHAPE' must look like 1,H/2,W/2,4 (e.g. 1,544,960,4)"
command -v "$PY" >/dev/null || die "python '$PY' not found; activate .venv or set PYTHON="
mkdir -p "$(dirname "$OUT")" || die "cannot create the folder of '$OUT'"

MAJOR=$("$PY" -c 'import os; os.environ["TF_CPP_MIN_LOG_LEVEL"]="3"; import tensorflow as tf; print(tf.__version__.split(".")[0])' 2>/dev/null) \
  || die "TensorFlow is not importable by '$PY'"
# TF 1.15's converter runs the helper program toco_from_protos found next to its Python
export PATH="$(dirname "$(command -v "$PY")"):$PATH"
EXTRA=()
[ "$MAJOR" -ge 2 ] && EXTRA=(--enable_v1_converter)

TMP="$OUT.tmp"
trap 'rm -f "$TMP"' EXIT
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
if ! LOG=$("$PY" -m tensorflow.lite.python.tflite_convert "${EXTRA[@]}" \
      --graph_def_file="$PB" --output_file="$TMP" \
      --input_arrays=Placeholder --output_arrays=output_l0 --input_shape="$SHAPE" 2>&1); then
  echo "$LOG" | tail -n 5 >&2
  die "tflite_convert failed on '$PB' (see above)"
fi
mv "$TMP" "$OUT"
echo "wrote $OUT ($(du -h "$OUT" | cut -f1), TF $MAJOR.x converter, input $SHAPE)"
