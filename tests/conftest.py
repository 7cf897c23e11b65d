"""Shared fixtures: a tiny generated dataset, a random VGG-19 .mat, one short training run.

Tests run on whichever stack's Python runs pytest (run_tests.sh runs them on both); scripts are
started as subprocesses with that same Python, exactly as a user types them.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_FIXTURE = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "punet_reference")
sys.path.insert(0, ROOT)


def run_script(*words, cwd=ROOT, env=None, timeout=600):
    """Run `python <script> words...` (or `bash <x>.sh`) and return the CompletedProcess."""
    script = words[0]
    cmd = (["bash"] if script.endswith(".sh") else [sys.executable]) + [os.path.join(ROOT, script)]
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHON=sys.executable)
    full_env.update(env or {})
    return subprocess.run(cmd + [str(w) for w in words[1:]], cwd=cwd, env=full_env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def assert_usage_error(proc, *needles):
    """Exit code 2, exactly one line on stderr naming the problem, no traceback."""
    lines = [l for l in proc.stderr.splitlines() if l.strip() and not _is_tf_noise(l)]
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _is_tf_noise(line):
    # TF 2.x's oneDNN banner is printed by its C++ runtime at import, before any of our code runs
    return ("oneDNN custom operations" in line or "absl::InitializeLog" in line)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    from make_demo_data import make_dataset
    out = str(tmp_path_factory.mktemp("data") / "raw_images")
    make_dataset(out, train_count=12, val_count=4, test_count=1, patch_size=64,
                 test_h=128, test_w=192, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def vgg_mat(tmp_path_factory):
    from make_vgg_mat import write_random_vgg
    return write_random_vgg(str(tmp_path_factory.mktemp("vgg") / "random-vgg19.mat"), width_div=16)


@pytest.fixture(scope="session")
def trained(demo_data, vgg_mat, tmp_path_factory):
    """A 4-iteration arch=model run with the VGG content loss, TensorBoard summaries every
    iteration and save_mid_imgs; returns (model_dir, process)."""
    model_dir = str(tmp_path_factory.mktemp("models"))
    result_dir = os.path.join(model_dir, "results")
    proc = run_script("train_model.py", "dataset_dir=" + demo_data, "model_dir=" + model_dir,
                      "result_dir=" + result_dir,
                      "vgg_dir=" + vgg_mat, "patch_w=64", "patch_h=64", "batch_size=4",
                      "train_size=12", "eval_step=2", "num_train_iters=4", "seed=0",
                      "save_mid_imgs=True", "summary_step=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return model_dir, proc
