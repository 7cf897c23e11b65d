"""The deployment checks: check_nnapi.py (NNAPI, or delegate=gpu the GPU delegate), and both checks
at the end of every conversion."""
import os
import re

import numpy as np
import pytest
from conftest import assert_usage_error, error_lines, run_script, save_random_checkpoint, tf2_python

from isp import gpu_delegate
from isp import load_dataset
from isp import model
from isp import nnapi
from isp import tflite_ops
from isp.checkpoints import freeze_checkpoint, write_frozen_graph
from isp.tfimport import import_tf, tf_major

tf = import_tf()
TF2 = tf_major() >= 2
ALL_ON_NNAPI = "all ops on NNAPI, one partition"
ALL_ON_GPU = "all ops on the GPU delegate, one partition"


def check_output(path, *words):
    proc = run_script("check_nnapi.py", "tflite=" + path, *words)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


# ---------------------------------------------------------------------------------------------
# a small graph with a float-only op (LOG, EXP) between convolutions


@pytest.fixture(scope="module")
def log_exp_pb(tmp_path_factory):
    """Placeholder [1,32,32,4] -> conv -> log -> exp -> conv -> output_l0: in an INT8 model, LOG
    and EXP are on int8 tensors, which NNAPI's LOG and EXP do not take."""
    path = str(tmp_path_factory.mktemp("logexp") / "log_exp.pb")
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, 32, 32, 4], name="Placeholder")
        w1 = tf.Variable(tf.random_uniform([3, 3, 4, 8], 0.0, 0.2, seed=1))
        w2 = tf.Variable(tf.random_uniform([3, 3, 8, 3], -0.2, 0.2, seed=2))
        h = tf.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME") + 0.1
        h = tf.exp(0.5 * tf.log(tf.maximum(h, 0.01)))
        tf.identity(tf.nn.conv2d(h, w2, [1, 1, 1, 1], "SAME"), name="output_l0")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            write_frozen_graph(tf, sess, ["output_l0"], path)
    return path


def calibration_inputs(count=4, shape=(1, 32, 32, 4)):
    rng = np.random.RandomState(0)
    return [rng.uniform(0.0, 1.0, shape).astype(np.float32) for _ in range(count)]


def demo_crops(dataset_dir, count):
    """32x32 crops of the first training RAWs, as the network sees them (the calibration's kind)."""
    folder = os.path.join(dataset_dir, "train", "mediatek_raw")
    names = sorted(os.listdir(folder))[:count]
    return [load_dataset.extract_bayer_channels(load_dataset.read_raw(os.path.join(folder, n)))[None, :32, :32]
            for n in names]


def plain_full_integer(pb_path, out_path):
    """The graph quantised as TF's converter does by default (every op int8, as our INT8 exports
    were before model.float_in_int8): LOG and EXP on int8 tensors."""
    converter = tf.lite.TFLiteConverter.from_frozen_graph(pb_path, ["Placeholder"], ["output_l0"],
                                                          {"Placeholder": [1, 32, 32, 4]})
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x] for x in calibration_inputs())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.uint8
    with open(out_path, "wb") as f:
        f.write(converter.convert())


@pytest.mark.skipif(not TF2, reason="INT8 conversion needs TF 2.x")
def test_a_float_only_op_in_an_int8_model_is_flagged(log_exp_pb, tmp_path):
    out = str(tmp_path / "plain_int8.tflite")
    plain_full_integer(log_exp_pb, out)
    stdout = check_output(out)
    assert re.search(r"CPU: op \d+ LOG on int8: NNAPI's LOG takes TENSOR_FLOAT32$", stdout, re.M), stdout
    assert re.search(r"CPU: op \d+ EXP on int8: NNAPI's EXP takes TENSOR_FLOAT32$", stdout, re.M), stdout
    assert stdout.rstrip().endswith("2 ops fall back to the CPU (LOG on int8, EXP on int8): 3 NNAPI partitions")
    assert_usage_error(run_script("check_nnapi.py", "tflite=" + out, "strict=True"), "LOG on int8", "strict=True")


def test_a_fall_back_at_conversion_warns_or_with_strict_writes_nothing(log_exp_pb, tmp_path):
    """LOG, EXP and MAXIMUM came with NNAPI feature level 3 (Android 10): converted for feature
    level 2, they fall back."""
    out = str(tmp_path / "log_exp.tflite")
    words = ["convert_tflite.py", "pb=" + log_exp_pb, "out=" + out, "feature_level=2"]
    # strict=True: a one-line error, exit 2, nothing under the final name (nor a temporary file)
    assert_usage_error(run_script(*(words + ["strict=True"])), "would not run wholly on the phone's accelerator",
                       "LOG on float32", "EXP on float32", "strict=True")
    assert os.listdir(str(tmp_path)) == []
    # by default: written, with a warning naming each op, the reason and the partitions
    proc = run_script(*words)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(out)
    warning = "\n".join(error_lines(proc))
    assert "warning: %s would not run wholly on NNAPI" % out in warning, warning
    assert re.search(r"CPU: op \d+ LOG on float32: NNAPI's LOG takes TENSOR_FLOAT32 from feature level 3 "
                     r"\(checked at 2\)$", warning, re.M), warning
    # MAXIMUM (the floor before the log) came with feature level 3 too
    assert ("3 ops fall back to the CPU (MAXIMUM on float32, LOG on float32, EXP on float32): 3 NNAPI partitions"
            in warning), warning


@pytest.mark.skipif(not TF2, reason="INT8 conversion needs TF 2.x")
def test_int8_export_keeps_the_float_only_ops_in_float(log_exp_pb, demo_data, tmp_path):
    """Our INT8 conversion keeps LOG and EXP float32 between a DEQUANTIZE and a QUANTIZE: one NNAPI
    partition, uint8 input and output as before, and the output still that of the float graph."""
    assert {"LOG", "EXP"} <= set(nnapi.float_only_ops()) and "CONV_2D" not in nnapi.float_only_ops()
    out = str(tmp_path / "log_exp_int8.tflite")
    proc = run_script("convert_tflite.py", "pb=" + log_exp_pb, "out=" + out, "precision=int8",
                      "dataset_dir=" + demo_data, "calib_size=4", "strict=True")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NNAPI check of %s (feature level 4): %s" % (out, ALL_ON_NNAPI) in proc.stdout, proc.stdout
    assert "fully_quantize" not in proc.stderr, proc.stderr  # the quantiser's C++ settings line is filtered
    stdout = check_output(out, "every_op=True")
    for op in ("LOG", "EXP"):
        assert re.search(r"NNAPI: op \d+:%s\(FLOAT32\)" % op, stdout), stdout
    assert re.search(r"NNAPI: op \d+:DEQUANTIZE\(INT8\)", stdout) and re.search(r"NNAPI: op \d+:CONV_2D\(INT8", stdout)
    # against the frozen graph on crops of the calibration RAWs: within a few int8 steps of the output
    interp = tf.lite.Interpreter(model_path=out)
    interp.allocate_tensors()
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and outp["dtype"] == np.uint8
    graph_def = tf.GraphDef()
    with open(log_exp_pb, "rb") as f:
        graph_def.ParseFromString(f.read())
    with tf.Graph().as_default() as g:
        tf.import_graph_def(graph_def, name="")
        with tf.Session(graph=g) as sess:
            for x in demo_crops(demo_data, 2):
                want = sess.run("output_l0:0", {"Placeholder:0": x})
                (si, zi), (so, zo) = inp["quantization"], outp["quantization"]
                interp.set_tensor(inp["index"], np.clip(np.round(x / si + zi), 0, 255).astype(np.uint8))
                interp.invoke()
                got = (interp.get_tensor(outp["index"]).astype(np.float32) - zo) * so
                # tolerance: 8 output steps (the float graph's output range over 256 levels)
                assert np.max(np.abs(got - want)) <= 8 * so, (np.max(np.abs(got - want)), so)


def test_the_same_graph_in_float_runs_wholly_on_nnapi(log_exp_pb, tmp_path):
    out = str(tmp_path / "log_exp.tflite")
    proc = run_script("convert_tflite.py", "pb=" + log_exp_pb, "out=" + out, "strict=True")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NNAPI check of %s (feature level 4): %s" % (out, ALL_ON_NNAPI) in proc.stdout, proc.stdout
    # LOG and EXP came with NNAPI feature level 3 (Android 10): before it, they fall back
    stdout = check_output(out, "feature_level=2")
    assert re.search(r"CPU: op \d+ LOG on float32: NNAPI's LOG takes TENSOR_FLOAT32 from feature level 3 "
                     r"\(checked at 2\)", stdout), stdout


# ---------------------------------------------------------------------------------------------
# arch=model's exports of the short training run


def test_arch_model_exports_pass_with_one_partition(converted):
    for precision in ("fp32", "fp16", "int8") if TF2 else ("fp32", "fp16"):
        stdout = check_output(converted[precision])
        assert stdout.rstrip().endswith(ALL_ON_NNAPI), (precision, stdout)
    if TF2:
        # INT8: the light's statistic after its cells' average pool (which takes the int8 input as the
        # convs do: its MEANs, ratio and root), the gain's LOG and EXP and the head's product with it
        # (model.float_in_int8) in float
        stdout = check_output(converted["int8"], "every_op=True")
        for op in ("MEAN(FLOAT32, INT32)", "DIV(FLOAT32, FLOAT32)", "LOG(FLOAT32)", "EXP(FLOAT32)",
                   "MUL(FLOAT32, FLOAT32)"):
            assert re.search(r"NNAPI: op \d+:%s" % re.escape(op), stdout), (op, stdout)
        # every value of the light after its pool is float (no int8 step inside it; slice indices are int32)
        interp = tf.lite.Interpreter(model_path=converted["int8"])
        stat = [(t["name"], t["dtype"]) for t in interp.get_tensor_details()
                if "/%s/" % model.LIGHT_SCOPE in t["name"] and "AvgPool" not in t["name"]]
        assert stat and not [(n, d) for n, d in stat if d not in (np.float32, np.int32)], stat
    # FP16's DEQUANTIZE ops of float16 weights are absorbed by the delegate, as it does
    stdout = check_output(converted["fp16"], "every_op=True")
    assert "(constant float16 weights, dequantised by the delegate)" in stdout and "CPU:" not in stdout
    # the GPU delegate takes the FP32 and the FP16 file (the one made for it) whole, FP16's weights folded
    for precision in ("fp32", "fp16"):
        stdout = check_output(converted[precision], "delegate=gpu", "every_op=True")
        assert stdout.rstrip().endswith(ALL_ON_GPU) and "CPU:" not in stdout, (precision, stdout)
        assert re.search(r"GPU: op \d+:CONV_2D\(FLOAT32", stdout), stdout
    assert "folded: op" in check_output(converted["fp16"], "delegate=gpu", "every_op=True")


# ---------------------------------------------------------------------------------------------
# arch=punet (num_maps_base=4): TRANSPOSE_CONV and LEAKY_RELU


@pytest.fixture(scope="module")
def punet_exports(demo_data, tmp_path_factory):
    """PUNET's FP32, FP16 and (TF 2.x) INT8 .tflite for 64x64 photos, and each conversion's output."""
    folder = str(tmp_path_factory.mktemp("punet"))
    prefix = save_random_checkpoint(os.path.join(folder, "punet.ckpt"), "punet", 4)
    pb = os.path.join(folder, "punet_64x64.pb")
    freeze_checkpoint(tf, "punet", 4, prefix, 64, 64, pb)
    out = {}
    for precision in ("fp32", "fp16", "int8") if TF2 else ("fp32", "fp16"):
        path = os.path.join(folder, "punet_%s.tflite" % precision)
        proc = run_script("convert_tflite.py", "pb=" + pb, "out=" + path, "precision=" + precision,
                          "dataset_dir=" + demo_data, "calib_size=4")
        assert proc.returncode == 0, proc.stderr[-2000:]
        out[precision] = (path, proc)
    return out


def test_punet_exports_are_judged(punet_exports):
    for precision, (path, proc) in punet_exports.items():
        # the conversion's own check, then check_nnapi.py listing every op
        assert "NNAPI check of %s (feature level 4): %s" % (path, ALL_ON_NNAPI) in proc.stdout, proc.stdout
        stdout = check_output(path, "every_op=True")
        kind = "INT8" if precision == "int8" else "FLOAT32"
        assert re.search(r"NNAPI: op \d+:TRANSPOSE_CONV\(INT32, %s, %s" % (kind, kind), stdout), stdout
        assert re.search(r"NNAPI: op \d+:LEAKY_RELU\(%s\)" % kind, stdout), stdout
        assert stdout.rstrip().endswith(ALL_ON_NNAPI)
    # what the table says: LEAKY_RELU becomes NNAPI's PRELU, and both it and TRANSPOSE_CONV came
    # with feature level 3; int8 (TENSOR_QUANT8_ASYMM_SIGNED) with feature level 4
    assert nnapi.TABLE["LEAKY_RELU"][0] == "PRELU" and nnapi.TABLE["TRANSPOSE_CONV"][0] == "TRANSPOSE_CONV_2D"
    stdout = check_output(punet_exports["fp32"][0], "feature_level=2")
    assert "LEAKY_RELU on float32: NNAPI's PRELU takes TENSOR_FLOAT32 from feature level 3 (checked at 2)" in stdout
    assert "TRANSPOSE_CONV on float32: NNAPI's TRANSPOSE_CONV_2D takes TENSOR_FLOAT32 from feature level 3" in stdout
    if "int8" in punet_exports:
        stdout = check_output(punet_exports["int8"][0], "feature_level=3")
        assert ("CONV_2D on int8: NNAPI's CONV_2D takes TENSOR_QUANT8_ASYMM_SIGNED from feature level 4 "
                "(checked at 3)") in stdout, stdout


def test_punet_of_any_size_has_a_computed_transpose_conv_shape(tmp_path):
    """Any size: TRANSPOSE_CONV's output shape is computed (SHAPE, STRIDED_SLICE, PACK), which the
    delegate does not take."""
    prefix = save_random_checkpoint(str(tmp_path / "punet.ckpt"), "punet", 4)
    pb = str(tmp_path / "punet_none.pb")
    freeze_checkpoint(tf, "punet", 4, prefix, None, None, pb)
    out = str(tmp_path / "punet_none.tflite")
    proc = run_script("convert_tflite.py", "pb=" + pb, "out=" + out, python=tf2_python())
    assert proc.returncode == 0, proc.stderr[-2000:]
    warning = "\n".join(error_lines(proc))
    assert "TRANSPOSE_CONV with a computed output shape: the delegate takes only a constant one" in warning
    assert "no NNAPI operation for SHAPE" in warning
    assert re.search(r"\d+ ops fall back to the CPU \(.*TRANSPOSE_CONV on float32 x5.*\): \d+ NNAPI partitions",
                     warning), warning


# ---------------------------------------------------------------------------------------------
# the reader and the partition model, without TensorFlow


def test_partitions_are_runs_of_accelerated_ops_in_execution_order():
    cpu = "LOG on int8: ..."
    assert nnapi.count_partitions(["nnapi"] * 5) == 1
    assert nnapi.count_partitions(["nnapi", cpu, "nnapi", cpu, "nnapi"]) == 3
    assert nnapi.count_partitions(["folded", "nnapi", "folded", "nnapi", cpu]) == 1
    assert nnapi.count_partitions([cpu, cpu]) == 0


def test_reader_names_match_litert_schema():
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    builtins = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    assert all(builtins[code] == name for code, name in tflite_ops.BUILTIN_OPS.items())
    assert all(types[code] == name for code, name in tflite_ops.TENSOR_TYPES.items())
    assert set(nnapi.TABLE) <= set(tflite_ops.BUILTIN_OPS.values())


def test_bad_input(log_exp_pb, tmp_path):
    assert_usage_error(run_script("check_nnapi.py", "tflite=" + log_exp_pb), "not a TFLite model", "convert_tflite.py")
    assert_usage_error(run_script("check_nnapi.py", "tflite=" + str(tmp_path / "none.tflite")), "not found")
    assert_usage_error(run_script("check_nnapi.py"), "tflite=<file.tflite>")
    good = str(tmp_path / "ok.tflite")
    assert run_script("convert_tflite.py", "pb=" + log_exp_pb, "out=" + good).returncode == 0
    with open(good, "rb") as f:
        head = f.read(200)
    cut = str(tmp_path / "cut.tflite")
    with open(cut, "wb") as f:
        f.write(head)
    assert_usage_error(run_script("check_nnapi.py", "tflite=" + cut), "truncated or damaged", "convert it again")
    assert_usage_error(run_script("convert_tflite.py", "pb=" + log_exp_pb, "feature_level=9"), "feature level from 1 to 8")


def test_export_challenge_strict_judges_the_timed_file_and_warns_for_the_any_size_one(trained, tmp_path):
    """strict=True applies to model.tflite (timed on the phone: all on NNAPI, one partition) and to
    the tile file made from it; the any-size model_none.tflite holds its crop's shape ops (SHAPE,
    STRIDED_SLICE on int32): a warning naming them, and all three files are written."""
    model_dir, _ = trained
    out = str(tmp_path / "challenge")
    proc = run_script("export_challenge.py", "model_dir=" + model_dir, "restore_iter=4", "out_dir=" + out,
                      "img_h=128", "img_w=192", "check_sizes=96x64,160x96", "runs=1", "threads=1", "strict=True",
                      python=tf2_python())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "NNAPI check of model.tflite (feature level 4): %s" % ALL_ON_NNAPI in proc.stdout, proc.stdout
    assert "warning: model_none.tflite would not run wholly on NNAPI" in proc.stderr
    assert "SHAPE" in proc.stderr and "STRIDED_SLICE" in proc.stderr
    # the GPU delegate's verdicts, printed the same way
    assert "GPU delegate check of model.tflite: %s" % ALL_ON_GPU in proc.stdout, proc.stdout
    assert "warning: model_none.tflite would not run wholly on the GPU delegate" in proc.stderr
    assert "no GPU delegate operation for SHAPE" in proc.stderr
    assert "NNAPI check of model_tiled.tflite (feature level 4): %s" % ALL_ON_NNAPI in proc.stdout, proc.stdout
    assert "GPU delegate check of model_tiled.tflite: %s" % ALL_ON_GPU in proc.stdout, proc.stdout
    assert sorted(os.listdir(out)) == ["model.tflite", "model_none.tflite", "model_tiled.tflite"]


# ---------------------------------------------------------------------------------------------
# the GPU delegate's rules


def _t(shape, type_name="FLOAT32", constant=False):
    return tflite_ops.Tensor("t", type_name, tuple(shape), constant)


def _op(name, inputs, outputs, **options):
    return tflite_ops.Op(0, name, inputs, outputs, options)


def test_gpu_rules_take_an_isp_network_and_refuse_what_the_delegate_refuses():
    x, y = _t([1, 8, 8, 4]), _t([1, 8, 8, 4])
    taken = [
        _op("CONV_2D", [x, _t([8, 3, 3, 4], constant=True), _t([8], constant=True)], [_t([1, 8, 8, 8])]),
        _op("ADD", [x, y], [y]),
        _op("MUL", [x, _t([1, 1, 1, 4])], [y]),
        _op("DEPTH_TO_SPACE", [_t([1, 4, 4, 16])], [x]),
        _op("MEAN", [x, _t([2], "INT32", constant=True)], [_t([1, 1, 1, 4])]),
        _op("LOG", [x], [y]),
        _op("SUB", [x, _t([4], constant=True)], [y]),
        _op("STRIDED_SLICE", [x] + [_t([4], "INT32", constant=True)] * 3, [y]),
        _op("CONV_2D", [_t([1, 8, 8, 4], "INT8"), _t([8, 3, 3, 4], "INT8", True)], [_t([1, 8, 8, 8], "INT8")]),
    ]
    for op in taken:
        assert gpu_delegate.judge_op(op) == "nnapi", (op, gpu_delegate.judge_op(op))
    assert gpu_delegate.judge_op(_op("DEQUANTIZE", [_t([8, 3, 3, 4], "FLOAT16", True)], [_t([8, 3, 3, 4])])) == "folded"
    refused = {
        "no GPU delegate operation for SHAPE": _op("SHAPE", [x], [_t([4], "INT32")]),
        "MEAN with computed axes": _op("MEAN", [x, _t([2], "INT32")], [y]),
        "rank-5 input": _op("ADD", [_t([1, 2, 8, 8, 4]), _t([1, 2, 8, 8, 4])], [_t([1, 2, 8, 8, 4])]),
        "STRIDED_SLICE with shrink_axis_mask": _op("STRIDED_SLICE", [x] + [_t([4], "INT32", True)] * 3, [y],
                                                   shrink_axis_mask=2),
        "computed int32 input": _op("TRANSPOSE_CONV", [_t([4], "INT32"), _t([4, 3, 3, 8], constant=True), x], [y]),
        "LOG with 0 runtime": _op("LOG", [_t([4], constant=True)], [y]),
        "MUL of [1, 8, 1, 4] by [1, 1, 8, 4]": _op("MUL", [_t([1, 8, 1, 4]), _t([1, 1, 8, 4])], [y]),
        "not in this check's table": _op("BUILTIN_999", [x], [y]),
    }
    for expected, op in refused.items():
        assert expected in gpu_delegate.judge_op(op), (expected, gpu_delegate.judge_op(op))


def test_gpu_partitions_past_the_first_are_said_to_stay_on_the_cpu():
    x = _t([1, 8, 8, 4])
    ops = [_op("LOG", [x], [x]), _op("SHAPE", [x], [_t([4], "INT32")]), _op("EXP", [x], [x])]
    verdict = gpu_delegate.check(ops=ops)
    assert verdict.partitions == 2 and not verdict.ok
    assert verdict.summary() == ("1 op falls back to the CPU (SHAPE on float32): 2 GPU delegate partitions (by "
                                 "default the delegate takes only the first; the rest run on the CPU)")


def test_strict_refuses_a_file_only_the_gpu_delegate_would_not_take(tmp_path):
    """A rank-5 tensor between ops: NNAPI's table takes every op, the GPU delegate does not; strict=True
    names the GPU, writes nothing; without strict both verdicts are printed."""
    pb = str(tmp_path / "rank5.pb")
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, 8, 8, 4], name="Placeholder")
        h = tf.reduce_max(tf.reshape(x, [1, 8, 8, 2, 2]), axis=4)
        tf.identity(tf.concat([h, h], axis=3) * 2.0, name="output_l0")
        with tf.Session() as sess:
            write_frozen_graph(tf, sess, ["output_l0"], pb)
    out = str(tmp_path / "rank5.tflite")
    proc = run_script("convert_tflite.py", "pb=" + pb, "out=" + out, "strict=True")
    assert_usage_error(proc, "rank5.tflite would not run wholly on the phone's GPU", "REDUCE_MAX on float32",
                       "under TFLite's GPU delegate", "delegate=gpu lists why")
    assert not os.path.exists(out)
    proc = run_script("convert_tflite.py", "pb=" + pb, "out=" + out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NNAPI check of %s (feature level 4): %s" % (out, ALL_ON_NNAPI) in proc.stdout, proc.stdout
    assert "warning: %s would not run wholly on the GPU delegate" % out in proc.stderr
    stdout = check_output(out, "delegate=gpu")
    assert "CPU: op" in stdout and "rank-5" in stdout
    assert_usage_error(run_script("check_nnapi.py", "tflite=" + out, "delegate=vulkan"), "delegate=vulkan", "nnapi or gpu")
