"""benchmark.py runs its modes and prints one row per arch or precision (behaviour only, never timings).
mode=horovod is tested with the distributed training, in test_horovod.py."""
import csv
import os
import re
import signal

import pytest
from conftest import ROOT, assert_usage_error, lines_read_while_running, run_script, start_script

from isp.tfimport import tf_major

TF2 = tf_major() >= 2


def test_speed_mode_prints_a_row_per_arch():
    proc = run_script("benchmark.py", "archs=model,punet:8", "img_h=64", "img_w=96", "patch=64",
                      "batch_size=2", "runs=1", "threads=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^(model:16|punet:8)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                      r"\s+([\d.]+)\s+([\d.]+)$", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["model:16", "punet:8"], proc.stdout
    assert int(rows[0][1]) == 17936
    assert rows[0][4] == rows[0][6] == rows[0][8] == "1.000"  # ratios are to the first arch
    assert float(rows[1][2]) > float(rows[0][2])               # PUNET costs more GFLOP


def test_quality_mode_trains_each_arch(demo_data):
    proc = run_script("benchmark.py", "mode=quality", "archs=model,punet:4", "dataset_dir=" + demo_data,
                      "iters=2", "patch=64", "batch_size=2", "infer=False")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^(model:16|punet:4)\s+([\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+\d+$", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["model:16", "punet:4"], proc.stdout


def test_input_mode_prints_both_feeds_with_a_third_of_the_bytes_fed_by_the_producer():
    proc = run_script("benchmark.py", "mode=input", "archs=model:4", "patch=64", "batch_size=2", "runs=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^(in line, float32 fed|producer, uint16/uint8)" + r" +([\d.]+)" * 7 + "$", proc.stdout, re.M)
    assert [r[0].split(",")[0] for r in rows] == ["in line", "producer"], proc.stdout
    assert [float(r[2]) for r in rows] == [0.13, 0.04]  # MB fed a step: 2 x (32x32x4 + 64x64x3) as float32, as uint16/uint8
    assert "fed bytes producer / in line: 0.312" in proc.stdout
    assert "before" not in proc.stdout and "after:" not in proc.stdout


def test_bad_archs():
    assert_usage_error(run_script("benchmark.py", "archs=model,unet"), "unknown arch 'unet'")
    assert_usage_error(run_script("benchmark.py", "archs=punet", "img_h=1000"), "multiple of 32")
    assert_usage_error(run_script("benchmark.py", "mode=fast"), "mode=")
    assert_usage_error(run_script("benchmark.py", "archs=model:7"), "even")


def test_benchmark_precision_mode_prints_a_row_per_precision(trained, demo_data):
    src, _ = trained
    ckpt = "ckpt=" + os.path.join(src, "model_iteration_4.ckpt")
    # img 192x128: the size of demo_data's test scene, so it is scored too
    proc = run_script("benchmark.py", "mode=precision", "archs=model", ckpt, "dataset_dir=" + demo_data,
                      "img_h=128", "img_w=192", "runs=1", "calib_size=4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {m.group(1): m for m in re.finditer(
        r"^(FP32|FP16|INT8) +([\d.]+) +([\d.]+) +([\d.]+) +val +([\d.]+) +([\d.]+) +(\S+) +(\S+)\n"
        r" +test +([\d.]+) +([\d.]+) +(\S+) +(\S+)$", proc.stdout, re.M)}
    assert sorted(rows) == sorted(["FP32", "FP16"] + (["INT8"] if TF2 else [])), proc.stdout
    assert float(rows["FP32"].group(8)) <= 1e-4  # max-abs of the FP32 .tflite against the graph (val)
    assert float(rows["FP32"].group(12)) <= 1e-4  # and on the test scene
    assert float(rows["FP16"].group(2)) < float(rows["FP32"].group(2))  # smaller file
    assert "quality on 4 validation images of 64x64" in proc.stdout
    assert "on 1 test scene of 192x128" in proc.stdout, proc.stdout
    # at a size the dataset has no test scene of: the validation rows, and a line saying so
    proc = run_script("benchmark.py", "mode=precision", "archs=model", ckpt, "dataset_dir=" + demo_data,
                      "img_h=64", "img_w=96", "runs=1", "calib_size=4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no test scenes of 96x64 in" in proc.stdout and "  test " not in proc.stdout, proc.stdout
    assert_usage_error(run_script("benchmark.py", "mode=precision", "ckpt=" + os.path.join(src, "nope.ckpt")),
                       "no such checkpoint")


def test_quality_curves_table_csv_png_and_resume(demo_data, tmp_path):
    work = str(tmp_path / "curves")
    common = ["mode=quality", "archs=model,punet:4", "dataset_dir=" + demo_data, "patch=64", "batch_size=2",
              "work_dir=" + work, "img_h=64", "img_w=96", "runs=1"]
    proc = run_script("benchmark.py", *common + ["curve=2,4"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^arch\s+2\s+4$", proc.stdout, re.M), proc.stdout
    rows = re.findall(r"^(model:16|punet:4)\s+([\d.]+)/([\d.]+)\s+([\d.]+)/([\d.]+)$", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["model:16", "punet:4"], proc.stdout
    assert re.search(r"^-punet\s+[-+][\d.]+/[-+][\d.]+\s+[-+][\d.]+/[-+][\d.]+$", proc.stdout, re.M), proc.stdout
    assert "model:16 step 2/4: val PSNR" in proc.stdout                 # plain progress lines
    # the trade-off table: inference time and PSNR per doubling of run time against the first arch
    trade = re.findall(r"^(model:16|punet:4)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([-+][\d.]+)\s+(\S+)$",
                       proc.stdout, re.M)
    assert [t[0] for t in trade] == ["model:16", "punet:4"] and trade[0][3] == "1.000", proc.stdout
    base = os.path.join(work, "curves_lr0.0005")
    assert os.path.getsize(base + ".png") > 1000
    with open(base + ".csv") as f:
        table = list(csv.DictReader(f))
    assert [(r["arch"], r["iteration"]) for r in table] == [
        ("model:16", "2"), ("model:16", "4"), ("punet:4", "2"), ("punet:4", "4")]
    # run again with a longer curve: each arch continues from its last checkpoint
    proc = run_script("benchmark.py", *common + ["curve=2,4,6", "infer=False"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("(resuming from 4)") == 2, proc.stdout
    assert "model:16 step 2/" not in proc.stdout
    with open(base + ".csv") as f:
        assert [r["iteration"] for r in csv.DictReader(f)] == ["2", "4", "6"] * 2
    # and a finished run is not trained again
    proc = run_script("benchmark.py", *common + ["curve=2,4,6", "infer=False"])
    assert proc.returncode == 0 and proc.stdout.count("complete in") == 2, proc.stdout
    assert_usage_error(run_script("benchmark.py", *common + ["curve=2,x"]), "curve=")


def test_quality_curves_over_several_seeds_give_the_mean_and_each_seed(demo_data, tmp_path):
    work = str(tmp_path / "curves")
    common = ["mode=quality", "archs=model,punet:4", "dataset_dir=" + demo_data, "patch=64", "batch_size=2",
              "work_dir=" + work, "curve=2,4", "infer=False"]
    proc = run_script("benchmark.py", *common + ["seed=0,1"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "model:16 seed 1 step 4/4: val PSNR" in proc.stdout, proc.stdout
    # each arch's row is the mean of its seeds' rows, which follow it
    cell = r"\s+([\d.]+)/([\d.]+)\s+([\d.]+)/([\d.]+)$"
    rows = re.findall(r"^(model:16|punet:4|  seed 0|  seed 1)" + cell, proc.stdout, re.M)
    assert [r[0] for r in rows] == ["model:16", "  seed 0", "  seed 1", "punet:4", "  seed 0", "  seed 1"], proc.stdout
    means = {}
    for k in (0, 3):
        mean, s0, s1 = ([float(v) for v in r[1:]] for r in rows[k:k + 3])
        assert all(abs(m - (a + b) / 2) <= 0.0051 for m, a, b in zip(mean, s0, s1)), rows[k:k + 3]
        means[rows[k][0]] = mean
    lead = re.search(r"^-punet\s+([-+][\d.]+)/([-+][\d.]+)\s+([-+][\d.]+)/([-+][\d.]+)$", proc.stdout, re.M)
    assert lead, proc.stdout
    assert abs(float(lead.group(3)) - (means["model:16"][2] - means["punet:4"][2])) <= 0.011
    assert sorted(os.listdir(work)) == ["curves_lr0.0005_s0-1.csv", "curves_lr0.0005_s0-1.png",
                                        "model16_lr0.0005_b2_p64_s0", "model16_lr0.0005_b2_p64_s1",
                                        "punet4_lr0.0005_b2_p64_s0", "punet4_lr0.0005_b2_p64_s1"]
    with open(os.path.join(work, "curves_lr0.0005_s0-1.csv")) as f:
        table = list(csv.DictReader(f))
    assert [(r["arch"], r["seed"], r["iteration"]) for r in table] == [
        (arch, seed, it) for arch in ("model:16", "punet:4") for seed in ("0", "1", "mean") for it in ("2", "4")]
    for r in (r for r in table if r["seed"] == "mean"):
        pair = [float(q["val_psnr"]) for q in table if (q["arch"], q["iteration"]) == (r["arch"], r["iteration"])
                and q["seed"] != "mean"]
        assert abs(float(r["val_psnr"]) - sum(pair) / 2) < 1e-3
    # one of those seeds alone: its finished runs are reused, and the table has no seed rows
    proc = run_script("benchmark.py", *common + ["seed=1"])
    assert proc.returncode == 0 and proc.stdout.count("complete in") == 2, proc.stdout
    assert "_s1 (delete" in proc.stdout and "  seed" not in proc.stdout, proc.stdout
    assert_usage_error(run_script("benchmark.py", *common + ["seed=0,x"]), "comma-separated")
    assert_usage_error(run_script("benchmark.py", *common + ["seed=1,1"]), "each value once")
    assert_usage_error(run_script("benchmark.py", "mode=precision", "seed=0,1", "ckpt=x"),
                       "several seeds are for mode=quality")


def _processes_mentioning(text):
    """The pids of running processes whose command line contains text."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    pids.append(int(pid))
        except OSError:  # ended meanwhile
            pass
    return pids


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_quality_mode_saves_the_training_and_the_same_command_continues(signum, demo_data, tmp_path):
    work = str(tmp_path / "curves")
    common = ["mode=quality", "archs=model", "dataset_dir=" + demo_data, "patch=64", "batch_size=2",
              "work_dir=" + work, "infer=False"]
    run_dir = os.path.join(work, "model16_lr0.0005_b2_p64_s0")
    proc = start_script("benchmark.py", *common + ["curve=7,100000"], cwd=str(tmp_path))
    with lines_read_while_running(proc.stdout, proc) as out:
        out.wait_for(lambda line: "model:16 step 7/" in line)
        proc.send_signal(signum)  # to benchmark.py only, as `kill PID` does
        proc.wait(timeout=300)
    err = proc.stderr.read()
    name = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}[signum]
    assert proc.returncode == 128 + signum and "Traceback" not in err, err[-3000:]
    said = [line for line in err.splitlines() if line.startswith("benchmark.py: ")]
    assert len(said) == 1, err[-3000:]
    match = re.search(r"model:16 stopped by %s after iteration (\d+), saved as (\S+); the same benchmark.py "
                      r"command continues from its last checkpoint$" % name, said[0])
    assert match, said[0]
    done = int(match.group(1))
    assert done >= 7 and match.group(2) == os.path.join(run_dir, "model_iteration_%d.ckpt" % done)
    assert not _processes_mentioning(run_dir)        # the training stopped with it, not left running
    proc = run_script("benchmark.py", *common + ["curve=7,%d" % (done + 1)], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "model:16: training to %d iterations (resuming from %d)" % (done + 1, done) in proc.stdout, proc.stdout


def test_lead_rows_name_the_arch_and_its_size_where_both_archs_share_a_name(capsys):
    from isp.bench import curves_report as bench_curves_report
    one = {1000: (17.0, 0.5, 0.8, 1.0)}
    other = {1000: (16.0, 0.4, 0.8, 1.0)}
    bench_curves_report.print_curves([("model:16", one, {0: one}), ("model:8", other, {0: other}),
                                     ("punet:16", other, {0: other})], [1000])
    out = capsys.readouterr().out
    assert re.search(r"^-model:8\s+\+1\.00/\+0\.1000$", out, re.M), out
    assert re.search(r"^-punet\s+\+1\.00/\+0\.1000$", out, re.M), out


def test_sizes_mode_prints_time_and_peak_memory_per_size_and_way():
    """Small photos here (the default is 2, 12 and 48 MP): one below the 1920x1088 tile, one above it."""
    if tf_major() < 2:
        pytest.skip("mode=sizes converts an any-size file: TF 2.x (tested there)")
    proc = run_script("benchmark.py", "mode=sizes", "archs=model", "ckpt=models/original/model_pretrained.ckpt",
                      "photo_sizes=640x480,2400x1200", "runs=1", "threads=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = re.findall(r"^(\S+ MP) +(\d+x\d+) +(graph, whole photo|TFLite any-size, whole photo|TFLite 1920x1088, tiled)"
                      r" +([\d.]+) +(\d+)$", proc.stdout, re.M)
    assert [(r[1], r[2]) for r in rows] == [(s, w) for s in ("640x480", "2400x1200") for w in (
        "graph, whole photo", "TFLite any-size, whole photo", "TFLite 1920x1088, tiled")], proc.stdout
    assert all(float(r[3]) > 0 and int(r[4]) > 100 for r in rows)
    assert_usage_error(run_script("benchmark.py", "mode=sizes"), "needs ckpt=")


def test_colours_mode_prints_each_scenes_mean_colour_at_three_sizes(tmp_path):
    """A 772x512 scene: cropped to 768x512 (so that it halves twice), rendered whole and with its
    planes binned once and twice; the printed means are the network's and the target's, computed
    here again."""
    import numpy as np
    from PIL import Image
    from make_demo_data import make_dataset
    from isp import load_dataset, model
    from isp.tfimport import import_tf
    data = str(tmp_path / "data")
    make_dataset(data, train_count=2, val_count=1, test_count=1, patch_size=64, test_h=512, test_w=772,
                 exposure_stops=0, dng=False, progress=False, log=lambda *a: None)
    ckpt = "models/original/model_pretrained.ckpt"
    proc = run_script("benchmark.py", "mode=colours", "archs=model", "ckpt=" + ckpt, "dataset_dir=" + data)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = re.findall(r"^(?:1\.png)? +(\d+x\d+) +([\d.]+) +([\d.]+) +([\d.]+)$", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["768x512", "384x256", "192x128"], proc.stdout
    printed = np.array([[float(v) for v in r[1:]] for r in rows])
    found = re.search(r"spread ([\d.]+) levels \(([RGB])\); target ([\d.]+) ([\d.]+) ([\d.]+); cropped from "
                      r"772x512 to halve twice", proc.stdout)
    moves = printed.max(axis=0) - printed.min(axis=0)
    assert found and abs(float(found.group(1)) - moves.max()) <= 0.11, proc.stdout
    assert found.group(2) == "RGB"[int(moves.argmax())] or np.sort(moves)[-2] >= moves.max() - 0.11, proc.stdout
    target = load_dataset.read_rgb(os.path.join(data, "test", "fujifilm", "1.png"))[:512, :768]
    assert np.allclose([float(v) for v in found.group(3, 4, 5)], target.reshape(-1, 3).mean(axis=0), atol=0.06)
    assert "largest spread: %s levels of 255 (1.png, %s)" % found.group(1, 2) in proc.stdout
    tf = import_tf()
    raw = load_dataset.read_raw(os.path.join(data, "test", "fujifilm_full_resolution", "1.png"))
    planes = load_dataset.extract_bayer_channels(raw[:512, :768])[None]
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, None, None, 4])
        out = model.build("model", x, 16)
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, os.path.join(ROOT, ckpt))
            for k in range(3):
                y = np.clip(sess.run(out, {x: planes})[0], 0.0, 1.0)
                assert np.allclose(255 * y.reshape(-1, 3).mean(axis=0, dtype=np.float64), printed[k], atol=0.06), k
                planes = planes.reshape(1, planes.shape[1] // 2, 2, planes.shape[2] // 2, 2, 4).mean(axis=(2, 4))
    # an odd RAW loses its last row and column, as in test_model.py; without a target none is printed
    odd = tmp_path / "data" / "test" / "odd"
    odd.mkdir()
    Image.fromarray(raw[:511, :771]).save(str(odd / "2.png"))
    proc = run_script("benchmark.py", "mode=colours", "archs=model", "ckpt=" + ckpt, "dataset_dir=" + data,
                      "test_dir=odd")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "note: RAW '2.png' is 771x511 (odd); its last row and column are dropped" in proc.stdout, proc.stdout
    assert re.search(r"^ +spread [\d.]+ levels \([RGB]\); cropped from 770x510 to halve twice$", proc.stdout, re.M), \
        proc.stdout
    assert_usage_error(run_script("benchmark.py", "mode=colours"), "needs ckpt=")
    assert_usage_error(run_script("benchmark.py", "mode=colours", "ckpt=models/none.ckpt", "dataset_dir=" + data),
                       "ckpt='models/none.ckpt': no such checkpoint")
    assert_usage_error(run_script("benchmark.py", "mode=colours", "archs=model:8", "ckpt=" + ckpt,
                                  "dataset_dir=" + data), "does not fit arch=model num_maps_base=8")
    assert_usage_error(run_script("benchmark.py", "mode=colours", "ckpt=" + ckpt, "dataset_dir=" + data,
                                  "test_dir=nope"), "test RAW folder '%s/test/nope' does not exist; " % data,
                       "set test_dir= to one of them")
