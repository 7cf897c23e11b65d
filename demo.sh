#!/usr/bin/env bash
# The whole pipeline on a small built-in demo, on the CPU, in a few minutes:
#   set up the stack -> make demo data (MAI21 layout) -> train arch=model -> test_model.py
#   (PSNR, SSIM, latency, result PNGs, frozen .pb; and the pretrained network beside it) -> .tflite FP32/FP16/INT8 -> inference_tflite.py
#   -> a 4000x3000 photo through the phone's fixed-size file in tiles, beside its whole-photo render;
#   plus plots and preview PNGs
#
#   bash demo.sh              # TF 2.x in .venv/
#   STACK=tf1 bash demo.sh    # TF 1.15.5 in .venv-tf1/
# ITERS=600 sets the number of training iterations. Everything goes to folders of its own, under
# DEMO=demo/: demo/raw_images/, demo/models/, demo/results/ (your raw_images/, models/ and results/
# are never touched); a second run replaces only the demo's own files.
# DEMO_UNTIL=N stops after step N (1: just the data); DEMO_DATA_ARGS="train_count=40 ..." passes
# more key=value words to make_demo_data.py.
set -euo pipefail
cd "$(dirname "$0")"
STACK=${STACK:-tf2}
ITERS=${ITERS:-600}
bash setup_env.sh "$STACK"
. ./stacks.sh
PY=$(stack_venv "$STACK")/bin/python
DEMO=${DEMO:-demo}
DATA="$DEMO/raw_images"
MODELS="$DEMO/models"
RESULTS="$DEMO/results"
mkdir -p "$DEMO"

echo "== 1/6 demo dataset (inverse ISP on photos that scikit-image and matplotlib ship) -> $DATA/"
"$PY" make_demo_data.py out="$DATA/" overwrite=True ${DEMO_DATA_ARGS:-}  # replaces only the files it wrote there itself
[ "${DEMO_UNTIL:-6}" -le 1 ] && exit 0

echo "== 2/6 training arch=model for $ITERS iterations (no VGG file here: content_loss=False)"
# overwrite=True: a demo run starts afresh over an earlier demo run's checkpoints in $MODELS
"$PY" train_model.py arch=model content_loss=False batch_size=8 train_size=240 \
      learning_rate=5e-4 eval_step=200 num_train_iters="$ITERS" seed=0 save_mid_imgs=True \
      dataset_dir="$DATA/" model_dir="$MODELS/" result_dir="$RESULTS/" overwrite=True
"$PY" plot_logs.py logs="$MODELS/logs_model_0-$ITERS.txt" labels="arch=model" out="$RESULTS/training.png"

[ "${DEMO_UNTIL:-6}" -le 2 ] && exit 0

echo "== 3/6 test_model.py at 1920x1088: PSNR/SSIM, latency, result PNGs, frozen graph"
"$PY" test_model.py arch=model restore_iter="$ITERS" dataset_dir="$DATA/" model_dir="$MODELS/" result_dir="$RESULTS/" \
      overwrite=True
echo "== 3/6 the pretrained arch=model (orig=True, models/original/) on the same scenes, side by side with it"
"$PY" test_model.py arch=model orig=True save=False dataset_dir="$DATA/" result_dir="$RESULTS/" overwrite=True
"$PY" compare_results.py result_dir="$RESULTS/" runs="model_iteration_$ITERS,model_pretrained" \
      labels="$ITERS iterations,pretrained (orig=True)" target_dir="$DATA/test/fujifilm/" out="$RESULTS/compare.png" \
      overwrite=True

[ "${DEMO_UNTIL:-6}" -le 3 ] && exit 0

echo "== 4/6 frozen graph -> TFLite FP32 (the baseline's command), FP16 and INT8"
M="$MODELS/model_iteration_$ITERS"
PYTHON="$PY" bash pb2tflite.sh "$M.pb" "$M.tflite" 1,544,960,4
PRECISIONS="fp16 int8"
[ "$STACK" = tf1 ] && PRECISIONS=fp16  # TF 1.15's converter cannot quantise these graphs to INT8
for P in $PRECISIONS; do
  PYTHON="$PY" bash pb2tflite.sh "$M.pb" "${M}_$P.tflite" precision=$P calib_size=32 dataset_dir="$DATA/"
done

[ "${DEMO_UNTIL:-6}" -le 4 ] && exit 0

echo "== 5/6 inference_tflite.py on the test photos: PSNR/SSIM, parity with the graph / FP32, latency"
T=("raw_dir=$DATA/test/fujifilm_full_resolution/" "target_dir=$DATA/test/fujifilm/")
"$PY" inference_tflite.py tflite="$M.tflite" reference="$M.pb" "${T[@]}"
for P in $PRECISIONS; do
  "$PY" inference_tflite.py tflite="${M}_$P.tflite" reference="$M.tflite" "${T[@]}"
done

[ "${DEMO_UNTIL:-6}" -le 5 ] && exit 0

echo "== 6/6 a 4000x3000 (12 MP) photo through the phone's fixed-size 1920x1088 file (the pretrained network), in tiles, beside its whole-photo render"
if [ "$STACK" = tf1 ]; then
  echo "(skipped on TF 1.15: export_challenge.py needs the TF 2.x converter; run bash demo.sh for it)"
else
  LARGE="$DEMO/large_photo"
  "$PY" make_demo_data.py out="$LARGE/" train_count=2 val_count=1 test_count=1 test_h=3000 test_w=4000 dng=False \
        overwrite=True
  # the shipped pretrained network (orig=True): the demo's short training renders a 12 MP photo poorly
  CH="$MODELS/challenge_pretrained"
  "$PY" export_challenge.py orig=True out_dir="$CH/" overwrite=True
  L=("raw_dir=$LARGE/test/fujifilm_full_resolution/" "target_dir=$LARGE/test/fujifilm/" "result_dir=$RESULTS/"
     save_images=True overwrite=True runs=3)
  # tile=True: the whole photo's light given to every tile; the reference is the any-size file on the whole photo
  "$PY" inference_tflite.py tflite="$CH/model_tiled.tflite" tile=True reference="$CH/model_none.tflite" "${L[@]}"
  "$PY" inference_tflite.py tflite="$CH/model_none.tflite" "${L[@]}"
  "$PY" compare_results.py result_dir="$RESULTS/" \
        runs="challenge_pretrained_model_tiled_tflite_tiled,challenge_pretrained_model_none_tflite" \
        labels="model_tiled.tflite in tiles,model_none.tflite whole" target_dir="$LARGE/test/fujifilm/" \
        out="$RESULTS/compare_large.png" overwrite=True
fi

echo "demo done. Look at: $RESULTS/compare.png ($ITERS iterations | pretrained | target),"
echo "  $RESULTS/compare_large.png (the 12 MP photo: tiles | whole | target),"
echo "  $RESULTS/*_model_iteration_${ITERS}_vs_target.png (output | target),"
echo "  $RESULTS/model_iteration_*_val.png (RAW preview | output | target), $RESULTS/training.png,"
echo "  $RESULTS/model_iteration_${ITERS}_metrics.csv, $M.{ckpt.*,pb,tflite} (+ _fp16, _int8),"
echo "  $MODELS/logs_model_0-$ITERS.txt, and TensorBoard: $(dirname "$PY")/tensorboard --logdir $MODELS/tensorboard"
