"""Tiled rendering (isp/tiles.py; inference_tflite.py and test_model.py tile=True): a photo larger
than a fixed-size model rendered in overlapping tiles equals the whole-photo render, shows no seam,
and every arch=model tile gets the whole photo's light."""
import glob
import os
import re

import numpy as np
import pytest
from PIL import Image
from conftest import ROOT, assert_usage_error, copy_checkpoint, run_script, tf2_python

from isp import load_dataset, model, tiles
from isp.evaluate import psnr_between
from isp.tfimport import import_tf, tf_major
from make_demo_data import make_dataset

tf = import_tf()

PRETRAINED = os.path.join(ROOT, "models", "original", "model_pretrained.ckpt")


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A 1536x1024 demo test scene (its dataset folder, and its planes [1, 512, 768, 4])."""
    out = str(tmp_path_factory.mktemp("tiles") / "raw_images")
    make_dataset(out, train_count=2, val_count=1, test_count=1, patch_size=64, test_h=1024, test_w=1536, seed=0,
                 progress=False)
    raw = glob.glob(os.path.join(out, "test", "fujifilm_full_resolution", "*.png"))[0]
    return out, load_dataset.extract_bayer_channels(load_dataset.read_raw(raw))[None]


@pytest.mark.parametrize("size,tile,overlap", [(500, 128, 64), (300, 128, 64), (1500, 544, 64), (129, 128, 32),
                                               (100, 128, 64), (1000, 128, 16)])
def test_tiles_are_aligned_cover_the_photo_and_their_weights_sum_to_one(size, tile, overlap):
    starts = tiles.tile_starts(size, tile, overlap)
    assert starts[0] == 0 and starts[-1] + tile >= size
    assert all(s % 2 == 0 for s in starts)  # arch=model's stride
    assert all(b + tile - c >= overlap for b, c in zip(starts, starts[1:]))  # neighbours share >= overlap
    ones = tiles.render(lambda t, light: np.ones((1, 2 * t.shape[1], 2 * t.shape[2], 3), np.float32),
                        np.zeros((1, size, size + 37, 4), np.float32), tile, tile + 64, overlap)
    assert ones.shape == (1, 2 * size, 2 * (size + 37), 3)
    assert np.max(np.abs(ones - 1.0)) <= 1e-5


def test_punet_tiles_start_on_its_grid():
    assert all(s % 16 == 0 for s in tiles.tile_starts(1500, 544, 64, align=tiles.align_of("punet")))


@pytest.mark.parametrize("h,w", [(37, 53), (64, 96), (6, 5), (1500, 2000)])
def test_the_light_in_numpy_is_the_graphs(h, w):
    """What a tiled render gives each tile is what the network computes from the whole photo."""
    x = np.random.RandomState(h).rand(1, h, w, 4).astype(np.float32) ** 3
    with tf.Graph().as_default():
        inp = tf.placeholder(tf.float32, [1, None, None, 4])
        wp = model._photo_light(inp)
        with tf.Session() as sess:
            ref = sess.run(wp, {inp: x})
    assert np.max(np.abs(model.light_of_planes(x) - ref)) <= 1e-6


def graphs(tile_h, tile_w):
    """(session, whole(x), tile(x, light), own(x)) of the shipped arch=model: the any-size graph, the
    tile graph with the light input, and the tile graph that takes its light from its tile."""
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [1, None, None, 4])
        t = tf.placeholder(tf.float32, [1, tile_h, tile_w, 4])
        light = model.light_placeholder()
        whole = model.build("model", x, 16)
        with tf.variable_scope(tf.get_variable_scope(), reuse=True):
            lit = model.build("model", t, 16, light)
            own = model.build("model", t, 16)
        sess = tf.Session(graph=g)
        tf.train.Saver([v for v in tf.global_variables()]).restore(sess, PRETRAINED)
    return (sess, lambda a: sess.run(whole, {x: a}), lambda a, l: sess.run(lit, {t: a, light: l}),
            lambda a, l: sess.run(own, {t: a}))


def test_tiles_with_the_photos_light_equal_the_whole_photo_and_show_no_seam(scene):
    """Tiles of 384x256 (output pixels) over a 1536x1024 scene: 45 dB is the bar. The seam detector
    (neighbours' agreement in their overlaps) sees nothing, and sees the seams of tiles that each
    take their own light."""
    _, x = scene
    th, tw = 128, 192
    sess, whole, lit, own = graphs(th, tw)
    shared, apart_seams = tiles.Agreement(), tiles.Agreement()
    with sess:
        ref = np.clip(whole(x), 0, 1)
        tiled = np.clip(tiles.render(lit, x, th, tw, 32, model.tile_light(x), agreement=shared), 0, 1)
        apart = np.clip(tiles.render(own, x, th, tw, 32, agreement=apart_seams), 0, 1)
    t = tiles.plan(x.shape[1], x.shape[2], th, tw, 32)
    assert len(t.rows) >= 4 and len(t.cols) >= 4
    assert psnr_between(tiled[0], ref[0]) >= 45.0
    assert np.max(np.abs(tiled - ref)) <= 1e-4
    assert shared.n > 0 and shared.psnr() >= 60.0 and shared.max_abs <= 1e-4
    # the detector is not blind: tiles that each take their own light disagree where they overlap
    print("tiles' agreement: shared light", shared.text(), "| own light", apart_seams.text(),
          "| own light vs whole photo %.1f dB" % psnr_between(apart[0], ref[0]))
    assert apart_seams.psnr() < 40.0 and apart_seams.max_abs > 0.05
    assert psnr_between(apart[0], ref[0]) < 40.0


def test_test_model_tiled_equals_its_whole_photo_render(scene, tmp_path):
    data, _ = scene
    out = str(tmp_path / "results")
    common = ["test_model.py", "orig=True", "dataset_dir=" + data, "result_dir=" + out, "runs=1", "save=False"]
    tiled = run_script(*common, "tile=True", "img_h=256", "img_w=384", "overlap=64")
    assert tiled.returncode == 0, tiled.stderr[-2000:]
    assert re.search(r"tile=True: each image in tiles of 384x256 blended over >= 64 px \(the last: \d+x\d+ tiles", tiled.stdout), \
        tiled.stdout
    assert "latency at 384x256 (input 1x128x192x4, one tile)" in tiled.stdout
    whole = run_script(*common, "img_h=full", "img_w=full")
    assert whole.returncode == 0, whole.stderr[-2000:]
    a = load_dataset.read_rgb(glob.glob(os.path.join(out, "*_pretrained_384x256_tiled.png"))[0]).astype(int)
    b = load_dataset.read_rgb(glob.glob(os.path.join(out, "*_pretrained_full.png"))[0]).astype(int)
    assert np.max(np.abs(a - b)) <= 1  # 8-bit rounding of outputs within 1e-4
    assert_usage_error(run_script(*common, "tile=True", "img_h=full", "img_w=full"), "tile=True", "not full")


@pytest.fixture(scope="module")
def challenge(tmp_path_factory):
    """export_challenge.py's files of the shipped network, model.tflite at 384x256."""
    out = str(tmp_path_factory.mktemp("challenge"))
    proc = run_script("export_challenge.py", "orig=True", "out_dir=" + out, "img_h=256", "img_w=384", "runs=1",
                      python=tf2_python())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"model_tiled.tflite +Placeholder \[1, 128, 192, 4\] \+ log_light \[1, 1, 1, 4\] -> output_l0 "
                     r"\[1, 256, 384, 3\]; vs the TF graph: max-abs", proc.stdout), proc.stdout
    assert "NNAPI check of model_tiled.tflite (feature level 4): all ops on NNAPI, one partition" in proc.stdout
    assert "GPU delegate check of model_tiled.tflite: all ops on the GPU delegate, one partition" in proc.stdout
    return out


def test_the_tile_file_renders_a_larger_photo_as_the_any_size_file_does(scene, challenge, tmp_path):
    data, _ = scene
    where = ["raw_dir=" + os.path.join(data, "test", "fujifilm_full_resolution"),
             "target_dir=" + os.path.join(data, "test", "fujifilm"), "runs=2"]
    tiled = os.path.join(challenge, "model_tiled.tflite")
    proc = run_script("inference_tflite.py", "tflite=" + tiled, "tile=True", "overlap=64",
                      "reference=" + os.path.join(challenge, "model_none.tflite"), *where,
                      "save_images=True", "result_dir=" + str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    vs = [float(v) for v in re.findall(r"\(1536x1024: \d+x\d+ tiles of 384x256, overlap >= 64 px; tiles agree in their overlaps to (?:inf|[\d.]+) dB "
                                       r"\(max-abs [^)]*\), [\d.]+ s\) .*vs reference: "
                                       r"PSNR +([\d.]+) dB", proc.stdout)]
    assert len(vs) == 1 and vs[0] >= 45.0, proc.stdout
    assert "parity (float model, max-abs <= 0.0001): yes" in proc.stdout
    assert re.search(r"peak memory of this process \d+ MB", proc.stdout)
    assert "one tile; threads" in proc.stdout
    assert glob.glob(os.path.join(str(tmp_path), "*_tiled.png"))
    # what would give each tile its own light, or does not tile, is refused in one line
    fixed = os.path.join(challenge, "model.tflite")
    assert_usage_error(run_script("inference_tflite.py", "tflite=" + fixed, "tile=True", *where),
                       "takes its light from its own input", tiled)
    assert_usage_error(run_script("inference_tflite.py", "tflite=" + tiled, *where), "is 1536x1024", "(tile=True")
    assert_usage_error(run_script("inference_tflite.py", "tflite=" + tiled, "tile=True", "crop=True", *where),
                       "choose one")
    assert_usage_error(run_script("inference_tflite.py", "tflite=" + os.path.join(challenge, "model_none.tflite"),
                                  "tile=True", *where), "needs a fixed-size model")


def test_a_tile_file_as_the_reference_runs_the_photo_with_its_light(scene, challenge, tmp_path):
    """reference=model_tiled.tflite on a photo of the tile's size: the reference gets the photo's
    light, so it renders as the any-size file does."""
    data, _ = scene
    raw = glob.glob(os.path.join(data, "test", "fujifilm_full_resolution", "*.png"))[0]
    small = tmp_path / "raw"
    small.mkdir()
    Image.fromarray(load_dataset.read_raw(raw)[:256, :384]).save(str(small / "1.png"))
    proc = run_script("inference_tflite.py", "tflite=" + os.path.join(challenge, "model_none.tflite"), "runs=1",
                      "reference=" + os.path.join(challenge, "model_tiled.tflite"), "raw_dir=" + str(small))
    assert proc.returncode == 0, proc.stderr[-2000:]
    vs = [float(v) for v in re.findall(r"1\.png .*vs reference: PSNR +(inf|[\d.]+) dB", proc.stdout)]
    assert len(vs) == 1 and vs[0] >= 45.0, proc.stdout


@pytest.mark.skipif(tf_major() < 2, reason="the tile file is converted with TF 2.x")
@pytest.mark.parametrize("earlier,message", [
    ({"GAIN_SCOPE": "light_gain"}, "the tile file of an earlier arch=model (its gain is under light_gain/)"),
    ({"LIGHT": "light"}, "is a tile file of an earlier form: its second input 'light' took the photo's light"),
    ({"LIGHT": "light", "GAIN_SCOPE": "light_gain"}, "convert_tflite.py) from a checkpoint of today's arch=model")])
def test_a_tile_file_of_an_earlier_form_is_refused(scene, tmp_path, monkeypatch, earlier, message):
    """A tile file whose gain is an earlier design's, whose input took the light itself (not its
    log), or both (the white-patch design's real tile files) would get a light it was not made
    for: refused by name."""
    from isp.tflite import convert_session
    for name, value in earlier.items():
        monkeypatch.setattr(model, name, value)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [1, 128, 192, 4], name="Placeholder")
        light = model.light_placeholder()
        out = model.build("model", x, 16, light=light)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            content = convert_session(tf, sess, [x, light], [out])
    old = str(tmp_path / "model_tiled.tflite")
    with open(old, "wb") as f:
        f.write(content)
    data, _ = scene
    assert_usage_error(run_script("inference_tflite.py", "tflite=" + old, "tile=True",
                                  "raw_dir=" + os.path.join(data, "test", "fujifilm_full_resolution")),
                       message, "export it again")


def test_the_tile_graph_makes_tile_files_at_every_precision(scene, challenge, tmp_path):
    """test_model.py tile=True save=True writes the tile graph (this stack); convert_tflite.py keeps its
    light input in FP16 (the GPU delegate's file) and INT8, each one NNAPI and one GPU-delegate
    partition; each renders the photo in tiles as the FP32 any-size file renders it whole."""
    data, _ = scene
    models = tmp_path / "models"
    copy_checkpoint(os.path.dirname(PRETRAINED), str(models / "original"), "model_pretrained", "model_pretrained")
    proc = run_script("test_model.py", "orig=True", "model_dir=" + str(models), "dataset_dir=" + data, "runs=1",
                      "result_dir=" + str(tmp_path / "results"), "tile=True", "img_h=256", "img_w=384", "overlap=64")
    assert proc.returncode == 0, proc.stderr[-2000:]
    pb = str(models / "original" / "model_pretrained_384x256_tiled.pb")
    assert "wrote the tile graph %s (inputs 1x128x192x4 and log_light 1x1x1x4" % pb in proc.stdout, proc.stdout
    where = ["raw_dir=" + os.path.join(data, "test", "fujifilm_full_resolution"), "tile=True", "overlap=64", "runs=1",
             "reference=" + os.path.join(challenge, "model_none.tflite")]
    vs = {}
    for precision in ("fp16", "int8"):
        conv = run_script("convert_tflite.py", "pb=" + pb, "precision=" + precision, "dataset_dir=" + data,
                          "calib_size=4", python=tf2_python())
        assert conv.returncode == 0, conv.stderr[-2000:]
        out = pb[:-3] + "_%s.tflite" % precision
        assert "wrote %s (" % out in conv.stdout and "input 1,128,192,4 + log_light 1,1,1,4" in conv.stdout, conv.stdout
        assert "(feature level 4): all ops on NNAPI, one partition" in conv.stdout, conv.stdout
        assert "all ops on the GPU delegate, one partition" in conv.stdout, conv.stdout
        run = run_script("inference_tflite.py", "tflite=" + out, *where, python=tf2_python())
        assert run.returncode == 0, run.stderr[-2000:]
        vs[precision] = [float(v) for v in re.findall(r"vs reference: PSNR +([\d.]+) dB", run.stdout)]
    assert len(vs["fp16"]) == 1 and vs["fp16"][0] >= 45.0, vs  # float16 weights, computed in float32 here
    # INT8's own rounding: about 30 dB from FP32 on the demo's scenes (the next test checks its light)
    assert len(vs["int8"]) == 1 and vs["int8"][0] >= 25.0, vs


@pytest.mark.skipif(tf_major() < 2, reason="INT8 files are made with TF 2.x's converter")
def test_an_int8_tile_file_takes_any_light_from_the_floor_to_one(tmp_path):
    """Calibrated on inputs of middling light only, its log_light input still spans the log of
    [LIGHT_FLOOR, 1] (tflite.light_calibration), and a photo far dimmer than those inputs
    renders, with its light, as the FP32 graph renders it."""
    from isp.checkpoints import freeze_checkpoint
    from isp.tflite import GraphModel, TFLiteModel, convert
    pb = str(tmp_path / "tile.pb")
    freeze_checkpoint(tf, "model", 16, PRETRAINED, 128, 128, pb, light=True)
    rng = np.random.RandomState(0)
    mid = [(0.1 + 0.2 * rng.rand(1, 64, 64, 4)).astype(np.float32) for _ in range(6)]
    lights = [model.light_of_planes(x) for x in mid]
    assert min(float(v.min()) for v in lights) > 0.1 and max(float(v.max()) for v in lights) < 0.4
    int8 = TFLiteModel(tf, content=convert(tf, pb, (1, 64, 64, 4), "int8", calibration=mid, light=True))
    scale, zero = int8.light["quantization"]
    assert int8.light["dtype"] == np.uint8, int8.light
    # uint8 0 and 255 hold log(LIGHT_FLOOR) and log(1) = 0: about 1 % of the light a step, at any light
    assert abs(-zero * scale - np.log(model.LIGHT_FLOOR)) < 0.02, int8.light
    graph = GraphModel(tf, pb)
    # the photo at a far lower exposure, with its light (a brighter one's pixels would leave the
    # image input's calibrated range, which real RAWs, not these inputs, set)
    x = mid[0] * np.float32(model.LIGHT_FLOOR * 1.5 / lights[0].max())
    light = model.tile_light(x)
    assert psnr_between(int8.run(x, light)[0], graph.run(x, light)[0]) >= 25.0
    # the light is not ignored: the same input with another light renders otherwise
    x = mid[0]
    assert np.abs(int8.run(x, model.tile_light(x)) - int8.run(x, model.tile_light(x) - 1.0)).mean() > 0.01
