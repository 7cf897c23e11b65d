"""The small things a new user meets first, as typed: a short key or a --key
value form gets its key=value spelling, a frozen graph given as tflite= is named as one, the default
tflite= says how to make it, counts agree with their nouns, help=True leads with the usual commands,
and the folders the README suggests for your own data are git-ignored."""
import os
import subprocess

from conftest import ROOT, assert_usage_error, run_script


def test_short_and_double_dash_keys_get_their_key_value_spelling(tmp_path):
    assert_usage_error(run_script("train_model.py", "lr=1e-4"), "unknown argument 'lr'; did you mean 'learning_rate'?")
    assert_usage_error(run_script("train_model.py", "--dataset_dir", "x", "arch=model"),
                       "argument '--dataset_dir': this script takes key=value words; write dataset_dir=x")
    assert_usage_error(run_script("test_model.py", "--model_dir=y"), "write model_dir=y")


def test_a_frozen_graph_given_as_tflite_is_named_as_one_and_the_default_says_how_to_make_it(demo_data, tmp_path):
    raw = "raw_dir=" + os.path.join(demo_data, "test", "fujifilm_full_resolution")
    pb = tmp_path / "model_iteration_4.pb"
    pb.write_bytes(b"\n\x0b\n\x01x\x12\x06Const")  # the first bytes of a GraphDef
    assert_usage_error(run_script("inference_tflite.py", "tflite=" + str(pb), raw),
                       "tflite=%s is a frozen graph, not a .tflite; convert it with: bash pb2tflite.sh %s" % (pb, pb))
    assert_usage_error(run_script("inference_tflite.py", raw, cwd=str(tmp_path)),
                       "TFLite model 'models/original/model_pretrained.tflite' not found",
                       "python test_model.py orig=True test_image=False && bash pb2tflite.sh "
                       "models/original/model_pretrained.pb")


def test_counts_agree_with_their_nouns(tmp_path):
    proc = run_script("make_demo_data.py", "out=" + str(tmp_path / "d"), "train_count=2", "val_count=1",
                      "test_count=1", "patch_size=32", "test_h=32", "test_w=48", "dng=False")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrote 2 train and 1 val patch (32x32) and 1 test scene (48x32) to" in proc.stdout


def test_help_leads_with_the_usual_commands_then_the_keys_then_the_details():
    for script in ("train_model.py", "test_model.py", "inference_tflite.py"):
        proc = run_script(script, "help=True")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        first_command = next(i for i, l in enumerate(lines) if l.startswith("    python %s" % script))
        usage = lines.index("usage: python %s key=value ..." % script)
        details = lines.index("details:")
        assert first_command < usage < details, (script, first_command, usage, details)
        assert any(l.startswith("  runs ") or l.startswith("  arch ") for l in lines[usage:details])


def test_the_folders_the_readme_suggests_for_your_data_are_git_ignored(tmp_path):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        assert "out=my_phone_data/" in f.read()
    for path in ("my_phone_data/train/mediatek_raw/0.png", "demo/raw_images/test/dng/1.dng",
                 "models/my_phone/model_iteration_1000.ckpt.index", "raw_images/test/my_phone/1.png"):
        proc = subprocess.run(["git", "-C", ROOT, "check-ignore", "--no-index", "-q", path])
        assert proc.returncode == 0, "%s is not ignored" % path
