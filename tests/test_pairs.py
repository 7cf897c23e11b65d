"""A test RAW and the target of the same name are scored only as a pair: a target of another size
is refused in one line naming both sizes, before any work; one of the same size but another scene
gets a warning beside its PSNR. Run as a user types the commands."""
import os
import shutil

from conftest import assert_usage_error, run_script, save_random_checkpoint

NMB = "num_maps_base=4"
WARNING = "WARNING: the RAW and its target look like different scenes"


def _scored_lines(stdout, names):
    """The PSNR line of each image name (the first word of the line)."""
    lines = {}
    for line in stdout.splitlines():
        words = line.split()
        if words and words[0] in names and "PSNR" in line:
            lines[words[0]] = line
    assert sorted(lines) == sorted(names), stdout
    return lines


def test_phone_dngs_converted_beside_other_photos_targets_are_refused_naming_both_sizes(demo_data, converted,
                                                                                       tmp_path):
    """README's DNG path: dng2png.py writes 1.png into a test folder of a dataset whose fujifilm/
    already holds a 1.png; the GRBG DNG gives 190x128 RAWs, the target is 192x128: one line naming
    both sizes and the key that fixes it, nothing written, from test_model.py and
    inference_tflite.py alike."""
    data = str(tmp_path / "data")
    shutil.copytree(demo_data, data)
    dcim = os.path.join(data, "test", "dcim")
    proc = run_script("dng2png.py", "input=" + os.path.join(data, "test", "dng"), "output=" + dcim)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(os.listdir(dcim)) == ["1.png"]
    models = str(tmp_path / "models")
    os.mkdir(models)
    save_random_checkpoint(os.path.join(models, "model_iteration_1.ckpt"), "model", 4)
    results = str(tmp_path / "results")
    target = os.path.join(data, "test", "fujifilm", "1.png")
    proc = run_script("test_model.py", NMB, "dataset_dir=" + data, "test_dir=dcim", "img_h=full", "img_w=full",
                      "model_dir=" + models, "result_dir=" + results, "save=False", "runs=1")
    assert_usage_error(proc, "target %r is 192x128 but its RAW %r is 190x128" % (target, os.path.join(dcim, "1.png")),
                       "not the same photo's pair", "set dslr_dir=")
    assert "restored" not in proc.stdout and not os.path.exists(results)
    proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"], "raw_dir=" + dcim, "crop=True",
                      "target_dir=" + os.path.join(data, "test", "fujifilm"), "save_images=True",
                      "result_dir=" + results)
    assert_usage_error(proc, "target %r is 192x128 but its RAW %r is 190x128" % (target, os.path.join(dcim, "1.png")),
                       "set target_dir=")
    assert not os.path.exists(results)
    # the DNGs themselves, read directly: their targets may be up to 2 columns and rows larger
    proc = run_script("test_model.py", NMB, "dataset_dir=" + data, "test_dir=dng", "img_h=full", "img_w=full",
                      "model_dir=" + models, "result_dir=" + results, "save=False", "runs=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1.dng" in _scored_lines(proc.stdout, ["1.dng"])


def test_a_target_of_another_scene_gets_a_warning_beside_its_psnr(demo_data, converted, tmp_path):
    """Validation RAWs under the names of other patches' targets (the same size, other places of
    the photos): each PSNR line carries the warning; the true pairs' lines do not. test_model.py
    (full size) and inference_tflite.py (a 64x64 .tflite) alike."""
    val = os.path.join(demo_data, "val")
    names = sorted(os.listdir(os.path.join(val, "mediatek_raw")), key=lambda n: int(n[:-4]))[:3]
    data = str(tmp_path / "data")
    for sub in ("true", "swapped"):
        os.makedirs(os.path.join(data, "test", sub))
    os.makedirs(os.path.join(data, "test", "fujifilm"))
    for k, name in enumerate(names):
        shutil.copy(os.path.join(val, "fujifilm", name), os.path.join(data, "test", "fujifilm", name))
        shutil.copy(os.path.join(val, "mediatek_raw", name), os.path.join(data, "test", "true", name))
        other = names[(k + 1) % len(names)]
        shutil.copy(os.path.join(val, "mediatek_raw", other), os.path.join(data, "test", "swapped", name))
    models = str(tmp_path / "models")
    os.mkdir(models)
    save_random_checkpoint(os.path.join(models, "model_iteration_1.ckpt"), "model", 4)
    for sub, warned in (("true", False), ("swapped", True)):
        proc = run_script("test_model.py", NMB, "dataset_dir=" + data, "test_dir=" + sub, "img_h=full",
                          "img_w=full", "model_dir=" + models, "result_dir=" + str(tmp_path / "r"), "save=False",
                          "runs=1")
        assert proc.returncode == 0, proc.stderr[-2000:]
        for line in _scored_lines(proc.stdout, names).values():
            assert (WARNING in line) == warned, line
        proc = run_script("inference_tflite.py", "tflite=" + converted["fp32"],
                          "raw_dir=" + os.path.join(data, "test", sub),
                          "target_dir=" + os.path.join(data, "test", "fujifilm"), "runs=1")
        assert proc.returncode == 0, proc.stderr[-2000:]
        for line in _scored_lines(proc.stdout, names).values():
            assert (WARNING in line) == warned, line
