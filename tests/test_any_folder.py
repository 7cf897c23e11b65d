"""Scripts started from another working folder, as a user types them there (`cd demo && python
../test_model.py orig=True`): the files the project ships are found, a default folder made relative to
the working folder is named in the first line of output, and a checkpoint that is not there is
named with the folder it was looked for in."""
import os

from conftest import ROOT, SMALL, assert_usage_error, kv_words, run_script

SHIPPED = os.path.join(ROOT, "models", "original", "model_pretrained.ckpt")


def test_orig_finds_the_shipped_checkpoint_from_another_folder_and_names_the_results_folder(demo_data, tmp_path):
    here = tmp_path / "demo"
    here.mkdir()
    words = ["test_model.py", "orig=True", "dataset_dir=" + demo_data, "img_h=128", "img_w=192", "save=False", "runs=1"]
    proc = run_script(*words, cwd=str(here))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == ("result_dir=results/ (the default) is relative to the current folder: it will be made as "
                        "%s/results/; set result_dir= to choose" % here), lines[:3]
    assert lines[1] == ("orig=True: models/original/model_pretrained.ckpt is not under the current folder %s; using "
                        "the project's %s" % (here, SHIPPED)), lines[:3]
    assert "restored %s (model" % SHIPPED in proc.stdout
    assert os.path.isfile(str(here / "results" / "1_model_pretrained_192x128.png"))
    assert sorted(os.listdir(str(here))) == ["results"]  # nothing else made here
    # the results folder is there now: no note; the same evaluation again is refused as before
    proc = run_script(*words + ["overwrite=True"], cwd=str(here))
    assert proc.returncode == 0 and "(the default)" not in proc.stdout, proc.stderr[-2000:]


def test_a_missing_pretrained_checkpoint_is_named_with_the_folder_it_was_looked_for_in(tmp_path):
    proc = run_script("test_model.py", "orig=True", "model_dir=models/", "test_image=False", cwd=str(tmp_path))
    assert_usage_error(proc, "orig=True but models/original/model_pretrained.ckpt(.index) does not exist (relative "
                       "to the current folder %s)" % tmp_path, "set model_dir= the folder whose original/ holds it")


def test_training_started_elsewhere_names_the_models_folder_it_makes_there(demo_data, tmp_path):
    # train_size left at its default, 5000, above the 12 images there: no warning (the user chose nothing)
    words = ["train_model.py", "dataset_dir=" + demo_data, "eval_step=2"] + kv_words(
        {k: v for k, v in SMALL.items() if k != "train_size"})
    proc = run_script(*words, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "train_size" not in proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "model_dir=models/ (the default) is relative to the current folder: it will be made as %s/models/; set "
        "model_dir= to choose" % tmp_path)
    assert os.path.isfile(str(tmp_path / "models" / "model_iteration_2.ckpt.index"))
    proc = run_script(*words + ["model_dir=other/"], cwd=str(tmp_path))  # given: no note, though it is made
    assert proc.returncode == 0 and "(the default)" not in proc.stdout, proc.stderr[-2000:]
    assert os.path.isfile(str(tmp_path / "other" / "model_iteration_2.ckpt.index"))
