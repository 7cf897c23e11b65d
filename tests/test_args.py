"""The declarative key=value parser and the scripts' command lines."""
import pytest

from conftest import assert_usage_error, run_script
from utils import Arg, UsageError, optional_int, parse_args, positive_int, to_bool

TABLE = [Arg("learning_rate", float, 5e-5, "lr"), Arg("batch_size", positive_int, 32, "b"),
         Arg("restore_iter", optional_int, None, "r"), Arg("save", to_bool, True, "s"),
         Arg("arch", str, "model", "a")]

TRAIN_DEFAULTS = dict(dataset_dir="raw_images/", model_dir="models/", result_dir="results/",
                      vgg_dir="vgg_pretrained/imagenet-vgg-verydeep-19.mat", dslr_dir="fujifilm/",
                      phone_dir="mediatek_raw/", arch="model", num_maps_base=16, restore_iter=None,
                      patch_w=256, patch_h=256, batch_size=32, train_size=5000, learning_rate=5e-5,
                      eval_step=1000, num_train_iters=100000)
TEST_DEFAULTS = dict(dataset_dir="raw_images/", test_dir="fujifilm_full_resolution/",
                     model_dir="models/", result_dir="results/", arch="model", num_maps_base=16,
                     orig=False, restore_iter=None, img_h=1088, img_w=1920, use_gpu=True, save=True,
                     test_image=True, dslr_dir="fujifilm/")


def test_defaults_and_values():
    a = parse_args(TABLE, [])
    assert a == {"learning_rate": 5e-5, "batch_size": 32, "restore_iter": None, "save": True, "arch": "model"}
    a = parse_args(TABLE, ["learning_rate=1e-3", "batch_size=8", "restore_iter=500", "save=false", "arch=punet"])
    assert a == {"learning_rate": 1e-3, "batch_size": 8, "restore_iter": 500, "save": False, "arch": "punet"}
    assert parse_args(TABLE, ["restore_iter=None"])["restore_iter"] is None


@pytest.mark.parametrize("words,needle", [
    (["learning_rat=1"], "unknown argument 'learning_rat'; did you mean 'learning_rate'?"),
    (["batch_size=eight"], "bad value 'eight' for 'batch_size'"),
    (["batch_size=0"], "bad value '0' for 'batch_size'"),
    (["batch_size=-4"], "bad value '-4' for 'batch_size'"),
    (["save=maybe"], "bad value 'maybe' for 'save': expected True/False"),
    (["restore_iter=1.5"], "bad value '1.5' for 'restore_iter'"),
    (["batch_size"], "not of the form key=value"),
    (["arch=a", "arch=b"], "given twice"),
])
def test_rejects(words, needle):
    with pytest.raises(UsageError) as err:
        parse_args(TABLE, words)
    assert needle in str(err.value)


def test_script_defaults_match_the_seed():
    import test_model
    import train_model
    train = {a.name: a.default for a in train_model.ARGS}
    test = {a.name: a.default for a in test_model.ARGS}
    for key, value in TRAIN_DEFAULTS.items():
        assert train[key] == value, key
    for key, value in TEST_DEFAULTS.items():
        assert test[key] == value, key


@pytest.mark.parametrize("flag", ["help=True", "--help"])
def test_help_lists_every_key(flag):
    import train_model
    proc = run_script("train_model.py", flag)
    assert proc.returncode == 0, proc.stderr
    for arg in train_model.ARGS:
        assert arg.name in proc.stdout
        assert "=" + str(arg.default) in proc.stdout


@pytest.mark.parametrize("script,words,needle", [
    ("train_model.py", ["learning_rat=1e-4"], "did you mean 'learning_rate'?"),
    ("train_model.py", ["batch_size=3.5"], "'batch_size'"),
    ("train_model.py", ["content_loss=perhaps"], "expected True/False"),
    ("test_model.py", ["use_gpu=maybe"], "'use_gpu'"),
    ("test_model.py", ["img_hh=1088"], "did you mean 'img_h'?"),
    ("make_demo_data.py", ["train_count=-1"], "'train_count'"),
])
def test_cli_bad_input_is_one_line_exit_2(script, words, needle, tmp_path):
    proc = run_script(script, *words, cwd=str(tmp_path))
    assert_usage_error(proc, needle)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_readme_documents_every_key():
    import os
    import make_demo_data
    import test_model
    import train_model
    from conftest import ROOT
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    for table in (train_model.ARGS, test_model.ARGS):
        for arg in table:
            assert "`%s`" % arg.name in readme, arg.name
    for arg in make_demo_data.ARGS[:3]:
        assert arg.name + "=" in readme
