"""What test_model.py and inference_tflite.py leave in result_dir and beside the checkpoint: each
evaluation's outputs named by model, test folder and size; the same evaluation again refused unless
overwrite=True; exports that are already there left alone; sizes of a .tflite checked before
TensorFlow; orig=True's note. A random checkpoint (num_maps_base=4) keeps them fast."""
import os

import numpy as np
import pytest
from conftest import assert_usage_error, error_lines, run_script, save_image, save_random_checkpoint

NMB = "num_maps_base=4"


def _snapshot(folder):
    """Every file of a folder with its bytes and modification time."""
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            out[name] = (f.read(), os.stat(path).st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def seed_sized(tmp_path_factory):
    """A dataset with one 1920x1088 test scene (the seed's size) in the seed's folder and a 1024x768
    one in another, targets for the first (no_targets/ holds none), and a random arch=model checkpoint."""
    root = tmp_path_factory.mktemp("seed_sized")
    rng = np.random.RandomState(0)
    raw = rng.randint(0, 1024, (1088, 1920)).astype(np.uint16)
    rgb = rng.randint(0, 256, (1088, 1920, 3)).astype(np.uint8)
    for sub, (h, w) in (("fujifilm_full_resolution", (1088, 1920)), ("other", (768, 1024))):
        (root / "data" / "test" / sub).mkdir(parents=True)
        save_image(str(root / "data" / "test" / sub / "1.png"), np.ascontiguousarray(raw[:h, :w]))
    (root / "data" / "test" / "fujifilm").mkdir()
    (root / "data" / "test" / "no_targets").mkdir()
    save_image(str(root / "data" / "test" / "fujifilm" / "1.png"), rgb)
    (root / "models").mkdir()
    save_random_checkpoint(str(root / "models" / "model_iteration_1.ckpt"), "model", 4)
    return str(root / "data"), str(root / "models")


def test_evaluations_of_other_folders_and_sizes_keep_each_others_results(seed_sized, tmp_path):
    data, models = seed_sized
    res = str(tmp_path / "results")
    base = ["test_model.py", NMB, "dataset_dir=" + data, "model_dir=" + models, "result_dir=" + res, "runs=1",
            "save=False"]
    proc = run_script(*base)  # the seed's folder and size: the seed's names
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = ["1_model_iteration_1.png", "1_model_iteration_1_vs_target.png", "model_iteration_1_metrics.csv"]
    assert sorted(os.listdir(res)) == first
    assert ("wrote 1 result PNG (1_model_iteration_1.png), 1 side-by-side PNG with its target "
            "(1_model_iteration_1_vs_target.png) and model_iteration_1_metrics.csv to %s\n" % res) in proc.stdout
    assert "mean over 1 image: PSNR" in proc.stdout
    kept = _snapshot(res)
    # another folder at another size (no targets there): names of their own, the first run's files intact
    proc = run_script(*base + ["test_dir=other", "img_w=1024", "img_h=768", "dslr_dir=no_targets"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrote 1 result PNG (1_model_iteration_1_other_1024x768.png) and " \
           "model_iteration_1_other_1024x768_metrics.csv to %s\n" % res in proc.stdout
    assert "(and" not in proc.stdout and "side-by-side" not in proc.stdout
    after = _snapshot(res)
    assert {n: after[n] for n in first} == kept
    assert sorted(set(after) - set(kept)) == ["1_model_iteration_1_other_1024x768.png",
                                              "model_iteration_1_other_1024x768_metrics.csv"]
    # the same evaluation again: refused before any work, naming what is there and the fix
    proc = run_script(*base)
    assert_usage_error(proc, "%s already holds the outputs of this evaluation" % res, "1_model_iteration_1.png",
                       "model_iteration_1_metrics.csv", "overwrite=True")
    assert "restored" not in proc.stdout and _snapshot(res) == after
    proc = run_script(*base + ["overwrite=True"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "to %s (replacing 3 earlier files, overwrite=True)" % res in proc.stdout
    # a test_dir that is not there: the folders that are
    assert_usage_error(run_script(*base + ["test_dir=fujifilm_full"]), "test RAW folder",
                       "holds fujifilm/, fujifilm_full_resolution/, no_targets/, other/", "set test_dir=")


def test_save_true_writes_its_graphs_once_and_says_so_in_one_line(tmp_path):
    save_random_checkpoint(str(tmp_path / "model_iteration_1.ckpt"), "model", 4)
    words = ["test_model.py", NMB, "model_dir=" + str(tmp_path), "test_image=False", "runs=1"]  # the seed's size
    proc = run_script(*words)
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = [line for line in proc.stdout.splitlines() if "save=True" in line]
    pb, meta, none = (str(tmp_path / n) for n in ("model_iteration_1.pb", "model_iteration_1.ckpt.meta",
                                                    "model_iteration_1_none.pb"))
    assert len(said) == 1 and "wrote the frozen graph %s (input 1x544x960x4" % pb in said[0]
    assert "wrote the meta graph %s" % meta in said[0] and "wrote the frozen graph %s for any size" % none in said[0]
    kept = _snapshot(str(tmp_path))
    proc = run_script(*words)  # the same again: every file already there, byte for byte
    assert proc.returncode == 0, proc.stderr[-2000:]
    said = [line for line in proc.stdout.splitlines() if "save=True" in line]
    assert len(said) == 1 and "wrote" not in said[0] and said[0].count("unchanged") == 3, said
    assert _snapshot(str(tmp_path)) == kept  # not rewritten: same bytes, same times


def test_orig_prints_the_first_line_of_the_note_beside_the_pretrained_checkpoint(tmp_path):
    (tmp_path / "original").mkdir()
    prefix = save_random_checkpoint(str(tmp_path / "original" / "model_pretrained.ckpt"), "model", 4)
    with open(prefix + ".txt", "w") as f:
        f.write("random weights for a test, not trained\nsecond line: details\n")
    proc = run_script("test_model.py", NMB, "orig=True", "model_dir=" + str(tmp_path), "save=False",
                      "test_image=False", "img_h=64", "img_w=64", "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("orig=True: random weights for a test, not trained\n") == 1
    assert "second line" not in proc.stdout


@pytest.fixture(scope="module")
def fixed_tflite(tmp_path_factory):
    """A random checkpoint's frozen graph for 64x64 photos, converted to a fixed-size .tflite."""
    models = tmp_path_factory.mktemp("tfl_models")
    save_random_checkpoint(str(models / "model_iteration_1.ckpt"), "model", 4)
    proc = run_script("test_model.py", NMB, "model_dir=" + str(models), "test_image=False", "img_h=64", "img_w=64",
                      "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = str(models / "model_iteration_1_64x64.tflite")
    proc = run_script("pb2tflite.sh", str(models / "model_iteration_1_64x64.pb"), out, "1,32,32,4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_tflite_outputs_cannot_be_taken_for_a_checkpoints_and_are_not_replaced(fixed_tflite, demo_data, tmp_path):
    models = str(tmp_path / "models")
    os.mkdir(models)
    model = os.path.join(models, "model.tflite")  # the challenge's name, the same as arch=model's
    with open(fixed_tflite, "rb") as src, open(model, "wb") as dst:
        dst.write(src.read())
    res = str(tmp_path / "res")
    words = ["inference_tflite.py", "tflite=" + model, "raw_dir=" + os.path.join(demo_data, "val", "mediatek_raw"),
             "target_dir=" + os.path.join(demo_data, "val", "fujifilm"), "save_images=True", "result_dir=" + res,
             "runs=1"]
    proc = run_script(*words)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tag = "model_tflite_mediatek_raw_64x64"  # file name and extension, folder, size
    names = ["%d_%s%s.png" % (i, tag, s) for i in range(4) for s in ("", "_vs_target")]
    assert sorted(os.listdir(res)) == sorted(names + [tag + "_metrics.csv"])
    assert "wrote 4 result PNGs (0_%s.png, 1_%s.png, 2_%s.png and 1 more), 4 side-by-side PNGs" % (tag, tag, tag) \
        in proc.stdout and "%s_metrics.csv to %s" % (tag, res) in proc.stdout
    kept = _snapshot(res)
    assert_usage_error(run_script(*words), "already holds the outputs of this evaluation", "0_%s.png" % tag,
                       "overwrite=True")
    assert _snapshot(res) == kept
    proc = run_script(*words + ["overwrite=True"])
    assert proc.returncode == 0 and "replacing 9 earlier files, overwrite=True" in proc.stdout, proc.stderr[-2000:]
    # the fixed-size file under its converter's name: the size is in it already
    proc = run_script(*words[:1] + ["tflite=" + fixed_tflite] + words[2:])
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = os.path.basename(os.path.dirname(fixed_tflite))  # not models/: named
    assert os.path.isfile(os.path.join(res, "0_%s_model_iteration_1_64x64_tflite_mediatek_raw.png" % folder))


def test_tflite_size_mismatch_is_found_before_tensorflow_and_names_the_any_size_model(fixed_tflite, demo_data,
                                                                                      tmp_path):
    """Photos of another size than a fixed-size .tflite's: one line naming the any-size model
    beside it and crop=True, before TensorFlow is imported (a stand-in tensorflow that cannot be
    imported shows it)."""
    fake = tmp_path / "no_tf" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('tensorflow imported before the size check')\n")
    env = {"PYTHONPATH": str(tmp_path / "no_tf")}
    test_raw = os.path.join(demo_data, "test", "fujifilm_full_resolution")  # 192x128 RAWs
    words = ["inference_tflite.py", "tflite=" + fixed_tflite, "raw_dir=" + test_raw, "save_images=True",
             "result_dir=" + str(tmp_path / "r")]
    proc = run_script(*words, env=env)
    assert_usage_error(proc, "is 192x128 but", "was converted for 64x64 (input 1x32x32x4)", "set crop=True",
                       "pb2tflite.sh <checkpoint>_none.pb")
    any_size = os.path.join(os.path.dirname(fixed_tflite), "model_iteration_1_none.tflite")
    with open(any_size, "wb") as f:  # only its name matters here
        f.write(b"x")
    try:
        proc = run_script(*words, env=env)
    finally:
        os.remove(any_size)
    assert_usage_error(proc, "run the any-size model beside it (tflite=%s), or render each RAW whole in tiles of the "
                       "model's size (tile=True), or set crop=True (the top-left 64x64 of each RAW)" % any_size)
    assert len(error_lines(proc)) == 1 and not os.path.exists(str(tmp_path / "r"))


def test_each_test_image_is_decoded_once_and_a_truncated_one_is_named_before_any_is(tmp_path, monkeypatch):
    from isp import evaluate
    from isp import load_dataset
    from isp.errors import UsageError
    raw_dir, rgb_dir = tmp_path / "raw", tmp_path / "rgb"
    raw_dir.mkdir()
    rgb_dir.mkdir()
    rng = np.random.RandomState(0)
    for i in range(3):
        save_image(str(raw_dir / ("%d.png" % i)), (rng.rand(64, 96) * 1023).astype(np.uint16))
        save_image(str(rgb_dir / ("%d.png" % i)), (rng.rand(64, 96, 3) * 255).astype(np.uint8))
    decoded = []
    for name in ("read_raw", "read_rgb"):
        real = getattr(load_dataset, name)
        monkeypatch.setattr(load_dataset, name, lambda path, *a, real=real, **k: decoded.append(path) or real(path, *a, **k))
    names = ["0.png", "1.png", "2.png"]
    evaluate.check_test_images(str(raw_dir), str(rgb_dir), names, 64, 96)
    images = list(evaluate.folder_images(str(raw_dir), str(rgb_dir), names, 64, 96))
    assert [n for n, _, _ in images] == names and all(t is not None for _, _, t in images)
    assert sorted(decoded) == sorted(str(d / n) for d in (raw_dir, rgb_dir) for n in names)  # each once
    data = (raw_dir / "2.png").read_bytes()
    (raw_dir / "2.png").write_bytes(data[:len(data) // 2])
    decoded.clear()
    with pytest.raises(UsageError, match="cannot read RAW PNG .*2.png"):
        evaluate.check_test_images(str(raw_dir), str(rgb_dir), names, 64, 96)
    assert decoded == []  # found from the file's checksums, nothing decoded
    with pytest.raises(UsageError, match="smaller than img_w x img_h = 128x64"):
        evaluate.check_test_images(str(raw_dir), str(rgb_dir), names[:1], 64, 128)


def test_two_models_never_share_an_output_name_and_the_hint_never_points_at_the_other_models(seed_sized, tmp_path):
    """A new user's case: models/walk/ and models/walk2/ both at iteration 300 into one results/, as a
    user types it: names of their own (the folder's name in them), the first's files intact. Two
    folders of one name elsewhere: the second is refused, naming the model that wrote the files, and
    overwrite=True does not replace them."""
    data, _ = seed_sized
    res = str(tmp_path / "results")
    for k, folder in enumerate(("models/walk", "models/walk2", "elsewhere/walk")):
        os.makedirs(str(tmp_path / folder))
        save_random_checkpoint(str(tmp_path / folder / "model_iteration_300.ckpt"), "model", 4, seed=k)
    base = ["test_model.py", NMB, "dataset_dir=" + data, "result_dir=" + res, "runs=1", "save=False",
            "restore_iter=300"]
    proc = run_script(*base + ["model_dir=" + str(tmp_path / "models" / "walk")])
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = ["1_walk_model_iteration_300.png", "1_walk_model_iteration_300_vs_target.png",
             "walk_model_iteration_300_metrics.csv"]
    assert sorted(os.listdir(res)) == first
    kept = _snapshot(res)
    proc = run_script(*base + ["model_dir=" + str(tmp_path / "models" / "walk2") + "/"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = _snapshot(res)
    assert {n: after[n] for n in first} == kept
    assert sorted(set(after) - set(first)) == ["1_walk2_model_iteration_300.png",
                                                 "1_walk2_model_iteration_300_vs_target.png",
                                                 "walk2_model_iteration_300_metrics.csv"]
    other = str(tmp_path / "elsewhere" / "walk")
    for extra in ([], ["overwrite=True"]):
        proc = run_script(*base + ["model_dir=" + other] + extra)
        line = assert_usage_error(proc, "%s already holds outputs of another model under these names" % res,
                                  "written by %s" % str(tmp_path / "models" / "walk" / "model_iteration_300.ckpt"),
                                  "set result_dir= another folder")
        assert "overwrite=True" not in line and "restored" not in proc.stdout
        assert _snapshot(res) == after
    # the same model again still gets the overwrite=True hint, and overwrite=True replaces its own files
    proc = run_script(*base + ["model_dir=" + str(tmp_path / "models" / "walk")])
    assert_usage_error(proc, "already holds the outputs of this evaluation", "set overwrite=True")
    proc = run_script(*base + ["model_dir=" + str(tmp_path / "models" / "walk"), "overwrite=True"])
    assert proc.returncode == 0 and "replacing 3 earlier files" in proc.stdout, proc.stderr[-2000:]


def test_two_challenge_exports_of_one_name_keep_their_own_results(fixed_tflite, demo_data, tmp_path):
    """Every challenge export is model.tflite / model_none.tflite: two export folders' files into one
    result_dir get names of their own."""
    res = str(tmp_path / "res")
    raw = os.path.join(demo_data, "val", "mediatek_raw")
    for folder in ("challenge", "challenge2"):
        os.makedirs(str(tmp_path / "models" / folder))
        model = str(tmp_path / "models" / folder / "model.tflite")
        with open(fixed_tflite, "rb") as src, open(model, "wb") as dst:
            dst.write(src.read())
        proc = run_script("inference_tflite.py", "tflite=" + model, "raw_dir=" + raw, "save_images=True",
                          "result_dir=" + res, "runs=1")
        assert proc.returncode == 0, proc.stderr[-2000:]
    tags = [folder + "_model_tflite_mediatek_raw_64x64" for folder in ("challenge", "challenge2")]
    assert sorted(os.listdir(res)) == sorted(["%d_%s.png" % (i, tag) for i in range(4) for tag in tags] +
                                             [tag + "_metrics.csv" for tag in tags])
