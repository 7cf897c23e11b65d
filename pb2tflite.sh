#!/usr/bin/env bash
# Convert a frozen graph (.pb, Placeholder -> output_l0) to TFLite: the baseline's command line,
# plus key=value words for convert_tflite.py (precision=fp32|fp16|int8, dataset_dir=, ...).
#
#   bash pb2tflite.sh [GRAPH.pb] [OUT.tflite] [INPUT_SHAPE] [key=value ...]
#   defaults: models/original/punet_pretrained.pb, the .pb's own name with .tflite (_fp16/_int8
#             added for precision=fp16/int8), the graph's own input shape (1,544,960,4 for the baseline's)
#   bash pb2tflite.sh models/model_iteration_600.pb                          # -> models/model_iteration_600.tflite
#   bash pb2tflite.sh models/model_iteration_600.pb precision=fp16           # -> models/model_iteration_600_fp16.tflite
#   bash pb2tflite.sh models/model_iteration_600.pb models/m_int8.tflite 1,544,960,4 precision=int8
#   bash pb2tflite.sh --help                                                 # this text and convert_tflite.py's keys
#
#   bash pb2tflite.sh models/model_iteration_600_none.pb models/model_none.tflite   # keeps any input size (TF 2.x)
#
# The Python decides the stack: $PYTHON if set, else the project's .venv/bin/python beside this
# script if it exists, else python3. INT8 and any-size models need TF 2.x.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x "$HERE/.venv/bin/python" ]; then PY=$HERE/.venv/bin/python
else PY=python3
fi
for word in "$@"; do
  if [ "$word" = --help ] || [ "$word" = -h ] || [ "$word" = help=True ]; then
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
    echo
    echo "key=value words (convert_tflite.py):"
    "$PY" "$HERE/convert_tflite.py" --help 2>/dev/null | sed -n '/^usage:/,$p' | tail -n +3 || true
    exit 0
  fi
done
POS=()
KV=()
for word in "$@"; do
  if [[ "$word" == *=* ]]; then KV+=("$word"); else POS+=("$word"); fi
done
[ ${#POS[@]} -le 3 ] || { echo "pb2tflite.sh: error: at most 3 positional arguments (GRAPH.pb OUT.tflite SHAPE), then key=value words" >&2; exit 2; }
ARGS=("pb=${POS[0]:-models/original/punet_pretrained.pb}")
[ ${#POS[@]} -ge 2 ] && ARGS+=("out=${POS[1]}")  # else convert_tflite.py names it after the .pb
[ ${#POS[@]} -ge 3 ] && ARGS+=("input_shape=${POS[2]}")
command -v "$PY" >/dev/null || { echo "pb2tflite.sh: error: python '$PY' not found; set up .venv with: bash $HERE/setup_env.sh tf2, or set PYTHON=" >&2; exit 2; }
exec "$PY" "$HERE/convert_tflite.py" "${ARGS[@]}" ${KV[@]+"${KV[@]}"}
