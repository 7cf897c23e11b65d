#!/usr/bin/env bash
# The whole pipeline on a small built-in demo, on the CPU, in a few minutes:
#   set up the stack -> make demo data (MAI21 layout) -> train arch=model -> test_model.py
#   (PSNR, SSIM, latency, result PNGs, frozen .pb) -> .tflite FP32/FP16/INT8 -> inference_tflite.py;
#   plus plots and preview PNGs
#
#   bash demo.sh              # TF 2.x in .venv/
#   STACK=tf1 bash demo.sh    # TF 1.15.5 in .venv-tf1/
# ITERS=600 sets the number of training iterations.
set -euo pipefail
cd "$(dirname "$0")"
STACK=${STACK:-tf2}
ITERS=${ITERS:-600}
bash setup_env.sh "$STACK"
. ./stacks.sh
PY=$(stack_venv "$STACK")/bin/python

echo "== 1/5 demo dataset (inverse ISP on scikit-image photos) -> raw_images/"
"$PY" make_demo_data.py out=raw_images/ overwrite=True

echo "== 2/5 training arch=model for $ITERS iterations (no VGG file here: content_loss=False)"
"$PY" train_model.py arch=model content_loss=False batch_size=8 train_size=240 \
      learning_rate=5e-4 eval_step=200 num_train_iters="$ITERS" seed=0 save_mid_imgs=True
"$PY" plot_logs.py logs="models/logs_0-$ITERS.txt" labels="arch=model" out=results/training.png

echo "== 3/5 test_model.py at 1088x1920: PSNR/SSIM, latency, result PNGs, frozen graph"
"$PY" test_model.py arch=model restore_iter="$ITERS"

echo "== 4/5 frozen graph -> TFLite FP32 (the baseline's command), FP16 and INT8"
M="models/model_iteration_$ITERS"
PYTHON="$PY" bash pb2tflite.sh "$M.pb" "$M.tflite" 1,544,960,4
PRECISIONS="fp16 int8"
[ "$STACK" = tf1 ] && PRECISIONS=fp16  # TF 1.15's converter cannot quantise these graphs to INT8
for P in $PRECISIONS; do
  PYTHON="$PY" bash pb2tflite.sh "$M.pb" "${M}_$P.tflite" precision=$P calib_size=32
done

echo "== 5/5 inference_tflite.py on the test photos: PSNR/SSIM, parity with the graph / FP32, latency"
"$PY" inference_tflite.py tflite="$M.tflite" reference="$M.pb"
for P in $PRECISIONS; do
  "$PY" inference_tflite.py tflite="${M}_$P.tflite" reference="$M.tflite"
done

echo "demo done. Look at: results/*_model_iteration_${ITERS}_vs_target.png (output | target),"
echo "  results/model_iteration_*_val.png (RAW preview | output | target), results/training.png,"
echo "  results/model_iteration_${ITERS}_metrics.csv, models/model_iteration_$ITERS.{ckpt.*,pb,tflite} (+ _fp16, _int8),"
echo "  models/logs_0-$ITERS.txt, and TensorBoard: $(dirname "$PY")/tensorboard --logdir models/tensorboard"
