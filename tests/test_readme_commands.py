"""README's commands run as printed. Sections 1-3 (set-up aside) are run, in the
README's order, in a folder laid out as a fresh clone after `DEMO_UNTIL=1 bash demo.sh` (the
scripts, the shipped checkpoint, demo/raw_images/), with the MAI21 data in place (raw_images/: a
copy of the demo data), the VGG file in place (random weights), and a home folder holding the DNGs
(~/DCIM/) and photos (~/Pictures/best/) those sections name. Each line goes to bash as printed, with
`python` the venv's; to keep it cheap the data is small and these keys are set to small values
(replaced where the line has them, added where not): the training commands' iterations, batch,
patches and pool (train_model.py, make_pretrained.py), make_demo_data.py's counts and test size,
and the latency runs. A log name made from num_train_iters follows it (logs_model_0-100000.txt is
logs_model_0-4.txt). Lines that need what the project does not ship are expected to refuse in one
line (PUNET's official weights; on TF 1.15, the challenge export that needs TF 2.x and the lines
that use its files). Not run here: `bash demo.sh` and `bash run_tests.sh` (tests/test_demo.py and
the suite itself), `tensorboard`, the benchmark and Horovod commands of sections 7-8
(tests/test_benchmark.py, tests/test_horovod.py); tests/test_readme.py checks that every command of
the README and docs/ names a script and keys it takes."""
import glob
import os
import re
import shutil
import subprocess
import sys

from conftest import ROOT, error_lines

from make_demo_data import make_dataset
from make_vgg_mat import write_random_vgg
from isp.photo_source import photo_folder
from isp.tfimport import tf_major

# key=value words set on each script's commands (replaced where the line has the key)
SMALL = {
    "train_model.py": {"num_train_iters": "4", "eval_step": "2", "batch_size": "2", "patch_w": "64", "patch_h": "64",
                       "train_size": "12"},
    "make_pretrained.py": {"num_train_iters": "2"},
    "make_demo_data.py": {"train_count": "12", "val_count": "2", "patch_size": "128", "test_h": "256", "test_w": "384"},
    "test_model.py": {"runs": "1"},
    "inference_tflite.py": {"runs": "1"},
    "export_challenge.py": {"runs": "1"},
}
RENAMED = {"logs_model_0-100000.txt": "logs_model_0-4.txt"}  # names made from num_train_iters
NOT_SHIPPED = "arch=punet orig=True"  # PUNET's official weights: the user puts them in models/original/
NEEDS_TF2 = "models/challenge/"


def _section(text, number):
    return text.split("\n## %d. " % number, 1)[1].split("\n## ", 1)[0]


def readme_lines():
    """The commands of sections 1-3 in order: the lines of their bash blocks that call `python` or
    `bash pb2tflite.sh`, and the `python ...` commands in their prose."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    found = []
    for number in (1, 2, 3):
        section = _section(text, number)
        for m in re.finditer(r"```bash\n(.*?)```|`(python [^`]+)`", section, re.S):
            if m.group(2):
                if "<" not in m.group(2):  # `python <script>.py key=value ...`: the form, not a command
                    found.append(m.group(2))
                continue
            for line in m.group(1).splitlines():
                if line.startswith("python ") or line.startswith("bash pb2tflite.sh"):
                    found.append(line)
    return found


def cheap(line):
    """The line with SMALL's keys set for its script and RENAMED's names replaced."""
    words = line.split("#", 1)[0].split()
    if words[0] == "python":
        for key, value in SMALL.get(words[1], {}).items():
            at = [i for i, w in enumerate(words) if w.startswith(key + "=")]
            if at:
                words[at[0]] = "%s=%s" % (key, value)
            else:
                words.append("%s=%s" % (key, value))
    line = " ".join(words)
    for old, new in RENAMED.items():
        line = line.replace(old, new)
    return line


def clone_after_demo_data(root, home):
    """A folder as a fresh clone after the demo data step, with the MAI21 data and VGG file in place."""
    os.makedirs(root)
    for pattern in ("*.py", "*.sh", "requirements*.txt"):
        for path in glob.glob(os.path.join(ROOT, pattern)):
            shutil.copy(path, root)
    shutil.copytree(os.path.join(ROOT, "isp"), os.path.join(root, "isp"),  # the library the scripts stand on
                    ignore=shutil.ignore_patterns("__pycache__"))
    os.makedirs(os.path.join(root, "models", "original"))
    for path in glob.glob(os.path.join(ROOT, "models", "original", "model_pretrained.ckpt*")):
        shutil.copy(path, os.path.join(root, "models", "original"))
    data = os.path.join(root, "demo", "raw_images")
    make_dataset(data, train_count=12, val_count=2, test_count=1, patch_size=128, seed=0, progress=False,
                 log=lambda *a: None)
    shutil.copytree(data, os.path.join(root, "raw_images"))
    os.makedirs(os.path.join(root, "vgg_pretrained"))
    write_random_vgg(os.path.join(root, "vgg_pretrained", "imagenet-vgg-verydeep-19.mat"), width_div=16)
    os.makedirs(os.path.join(home, "DCIM"))
    for k, path in enumerate(sorted(glob.glob(os.path.join(data, "test", "dng", "*.dng")))):
        shutil.copy(path, os.path.join(home, "DCIM", "IMG_%04d.dng" % (k + 1)))  # a phone's names
    os.makedirs(os.path.join(home, "Pictures", "best"))
    for name in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "hubble_deep_field.jpg", "ihc.png"):
        shutil.copy(os.path.join(photo_folder(), name), os.path.join(home, "Pictures", "best"))


def test_the_readmes_commands_run_as_printed(tmp_path):
    lines = readme_lines()
    assert len(lines) >= 20 and any("plot_logs.py" in l for l in lines) and any("~/DCIM/" in l for l in lines)
    root, home = str(tmp_path / "clone"), str(tmp_path / "home")
    clone_after_demo_data(root, home)
    env = dict(os.environ, HOME=home, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
               TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHON", None)
    for line in lines:
        command = cheap(line)
        proc = subprocess.run(["bash", "-c", command], cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=900)
        refused = NOT_SHIPPED in line or (NEEDS_TF2 in line and tf_major() < 2)
        if refused:
            assert proc.returncode == 2 and len(error_lines(proc)) == 1, (command, proc.stderr[-2000:])
        else:
            assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-3000:])
    assert os.path.isfile(os.path.join(root, "models", "original", "model_pretrained.tflite"))
    assert os.path.isfile(os.path.join(root, "results", "training.png"))
    assert os.path.isfile(os.path.join(root, "models", "finetune", "model_iteration_4.ckpt.index"))
    assert os.path.isfile(os.path.join(root, "models", "my_phone", "model_iteration_4.ckpt.index"))
