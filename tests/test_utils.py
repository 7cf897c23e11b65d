"""isp/args.py, isp/errors.py, isp/tfimport.py, isp/progress.py, isp/utils.py, isp/runlock.py: the declarative key=value parser (and every script's one-line errors through it),
atomic files, the quiet TensorFlow import, one-line run failures."""
import errno
import os
import signal
import subprocess
import sys

import pytest
from conftest import ROOT, assert_usage_error, run_script, start_script

from isp.args import Arg, optional_int, optional_path, parse_args, positive_int, to_bool
from isp.errors import RunFailure, UsageError, child_with_signals, python_command, run_main
from isp import runlock
from isp.utils import atomic_output

TABLE = [Arg("learning_rate", float, 5e-5, "lr"), Arg("batch_size", positive_int, 32, "b"),
         Arg("restore_iter", optional_int, None, "r"), Arg("save", to_bool, True, "s"),
         Arg("arch", str, "model", "a")]


def test_defaults_and_values():
    a = parse_args(TABLE, [])
    assert a == {"learning_rate": 5e-5, "batch_size": 32, "restore_iter": None, "save": True, "arch": "model"}
    a = parse_args(TABLE, ["learning_rate=1e-3", "batch_size=8", "restore_iter=500", "save=false", "arch=punet"])
    assert a == {"learning_rate": 1e-3, "batch_size": 8, "restore_iter": 500, "save": False, "arch": "punet"}
    assert parse_args(TABLE, ["restore_iter=None"])["restore_iter"] is None
    path = [Arg("init_from", optional_path, None, "p")]
    assert parse_args(path, ["init_from=None"]) == parse_args(path, ["init_from="]) == {"init_from": None}
    assert parse_args(path, ["init_from=models/x.ckpt"]) == {"init_from": "models/x.ckpt"}


@pytest.mark.parametrize("words,needle", [
    (["learning_rat=1"], "unknown argument 'learning_rat'; did you mean 'learning_rate'?"),
    (["batch_size=eight"], "bad value 'eight' for 'batch_size'"),
    (["batch_size=0"], "bad value '0' for 'batch_size'"),
    (["batch_size=-4"], "bad value '-4' for 'batch_size'"),
    (["save=maybe"], "bad value 'maybe' for 'save': expected True/False (also 1/0, yes/no)"),
    (["restore_iter=1.5"], "bad value '1.5' for 'restore_iter'"),
    (["batch_size"], "not of the form key=value"),
    (["arch=a", "arch=b"], "given twice"),
])
def test_rejects(words, needle):
    with pytest.raises(UsageError) as err:
        parse_args(TABLE, words)
    assert needle in str(err.value)
    assert "True or False" not in str(err.value)  # said once


def test_printed_commands_name_this_python_and_the_scripts_path(tmp_path):
    """A printed command runs as printed: this interpreter (relative where it lies under the
    working folder, as the project's .venv/bin/python does), the script's path, quoted words."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = "from isp import errors; print(errors.python_command('train_model.py', ['model_dir=my models/', 'seed=0']))"
    inside = os.path.relpath(sys.executable, root)
    python = sys.executable if inside.startswith(os.pardir) else inside
    proc = run_script("-c", code)  # in the project folder
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "%s train_model.py 'model_dir=my models/' seed=0\n" % python
    proc = run_script("-c", "import sys; sys.path.insert(0, %r); %s" % (root, code), cwd=str(tmp_path))
    assert proc.stdout == "%s %s 'model_dir=my models/' seed=0\n" % (sys.executable, os.path.join(root, "train_model.py"))
    assert python_command("x.py").split()[0] != "python"


def _shadow(tmp_path, module):
    """A PYTHONPATH on which `module` cannot be imported, as in a Python without it installed."""
    fake = tmp_path / "shadow" / module
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named '%s'\", name=%r)\n" % (module, module))
    return str(tmp_path / "shadow")


# scripts whose top-level imports pull numpy: each imports errors first (test_model.py,
# inference_tflite.py, plot_logs.py and make_demo_data.py are not yet among them)
NUMPY_AT_THE_TOP = ["train_model.py", "convert_tflite.py", "benchmark.py", "dng2png.py", "export_challenge.py",
                    "make_vgg_mat.py", "test_model.py", "inference_tflite.py", "plot_logs.py", "make_demo_data.py",
                    "compare_results.py"]


@pytest.mark.parametrize("script", NUMPY_AT_THE_TOP)
def test_a_script_run_by_a_python_without_numpy_says_how_to_set_up(script, tmp_path):
    proc = run_script(script, "help=True", cwd=str(tmp_path), env={"PYTHONPATH": _shadow(tmp_path, "numpy")})
    assert_usage_error(proc, "%s: error: No module named 'numpy' in this Python" % script, "bash ",
                       "setup_env.sh %s" % ("tf1" if sys.version_info[:2] == (3, 7) else "tf2"))


def test_a_program_of_the_users_own_keeps_its_traceback(tmp_path):
    """Importing a library module changes no hook: the user's program fails in its own way."""
    program = tmp_path / "mine.py"
    program.write_text("import sys\nsys.path.insert(0, %r)\nfrom isp import errors\nfrom isp import utils\n"
                       "assert sys.excepthook is sys.__excepthook__\nimport numpy\n" % ROOT)
    proc = run_script(str(program), env={"PYTHONPATH": _shadow(tmp_path, "numpy")})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" in proc.stderr and "ModuleNotFoundError: No module named 'numpy'" in proc.stderr
    assert "setup_env.sh" not in proc.stderr


def test_a_missing_third_party_module_is_one_line_naming_the_set_up_command(tmp_path, capsys):
    stack = "tf1" if sys.version_info[:2] == (3, 7) else "tf2"
    # a script's top-level import: test_a_script_run_by_a_python_without_numpy_says_how_to_set_up
    def needs_tensorflow(argv):  # an import inside main (TensorFlow is imported late)
        raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")
    with pytest.raises(SystemExit) as exit_:
        run_main(needs_tensorflow, [])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.splitlines()) == 1, err
    assert "error: No module named 'tensorflow' in this Python" in err and "setup_env.sh %s" % stack in err

    def ours_missing(argv):  # one of the project's own modules: a bug, with its traceback
        raise ModuleNotFoundError("No module named 'isp.checkpoints'", name="isp.checkpoints")
    with pytest.raises(ModuleNotFoundError):
        run_main(ours_missing, [])


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


def test_atomic_output_replaces_only_on_success(tmp_path):
    path = str(tmp_path / "out.txt")
    with open(path, "w") as f:
        f.write("old")
    with pytest.raises(RuntimeError):
        with atomic_output(path) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise RuntimeError("crash while writing")
    assert open(path).read() == "old" and os.listdir(str(tmp_path)) == ["out.txt"]
    with atomic_output(path, ".tmp.txt") as tmp:
        assert tmp.endswith(".tmp.txt")
        with open(tmp, "w") as f:
            f.write("new")
    assert open(path).read() == "new" and os.listdir(str(tmp_path)) == ["out.txt"]


BANNER = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
          b"I0000 00:00:1795669785.871969    2894 cpu_feature_guard.cc:227] This TensorFlow binary is optimized "
          b"to use available CPU instructions in performance-critical operations.\n"
          b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
          b"appropriate compiler flags.\n"
          b"I0000 00:00:1795669785.9    2894 port.cc:153] oneDNN custom operations are on. You may see slightly "
          b"different numerical results due to floating-point round-off errors from different computation orders.\n")


def test_the_tf_banner_is_dropped_and_every_other_stderr_line_kept():
    code = ("import os, sys; from isp import tfimport\n"
            "with tfimport.native_stderr_filtered(tfimport.is_tf_banner):\n"
            "    os.write(2, b'before\\n' + %r + b'between\\n')\n"
            "    sys.stderr.write('from python\\n')\n"
            "    os.write(2, %r + b'after, without a newline')\n" % (BANNER, BANNER))
    proc = run_script("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "before\nbetween\nfrom python\nafter, without a newline"


def test_import_tf_prints_no_banner_even_with_tf_logging_on():
    code = "import sys; from isp import tfimport\ntfimport.import_tf()\nsys.stderr.write('imported\\n')\n"
    proc = run_script("-c", code, env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert proc.returncode == 0, proc.stderr
    banner = BANNER.decode().splitlines()
    assert not [line for line in proc.stderr.splitlines() if line in banner or "InitializeLog" in line
                or "cpu_feature_guard" in line or "oneDNN custom operations" in line], proc.stderr
    assert proc.stderr.splitlines()[-1] == "imported"


def test_import_tf_silences_the_v1_shims_deprecation_notices_through_the_public_logger():
    code = ("import sys; from isp import tfimport\ntf = tfimport.import_tf(use_gpu=False)\n"
            "from tensorflow.python.util import deprecation\n"
            "assert deprecation._PRINT_DEPRECATION_WARNINGS, 'a private flag was set'\n"
            "tf.to_float(tf.placeholder(tf.float32, [None]))\nsys.stderr.write('built\\n')\n")
    proc = run_script("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "Instructions for updating" not in proc.stderr and "deprecated" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1] == "built"


def test_run_failure_is_one_line_and_exit_1(capsys):
    def fails(argv):
        raise RunFailure("the training loss became NaN/Inf at iteration 3")
    with pytest.raises(SystemExit) as exit_:
        run_main(fails, [])
    assert exit_.value.code == 1
    assert capsys.readouterr().err.endswith(": error: the training loss became NaN/Inf at iteration 3\n")


def test_progress_into_a_file_is_plain_lines(capsys):
    """Where stderr is not a terminal (nohup, CI): plain lines, no carriage returns or bars."""
    from isp import progress
    bar = progress.progress(range(2, 6), desc="training model", unit="it", initial=2, total=6, mininterval=0)
    assert isinstance(bar, progress.PlainProgress)
    for _ in bar:
        bar.set_postfix(loss="0.5000", refresh=False)
    bar.write("step 6 | a log line")
    bar.close()
    out, err = capsys.readouterr()
    assert out == "step 6 | a log line\n"
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    assert lines[0].startswith("training model: 3/6 it (50%), ") and lines[0].endswith(", loss=0.5000")
    assert lines[-1].startswith("training model: 6/6 it (100%)")


def _in_a_terminal(code):
    """Run `python -c code` (the project folder on its path) with stdout and stderr on a pty of
    100 columns, as in a user's terminal; returns (exit code, everything it wrote, as text)."""
    import fcntl
    import pty
    import struct
    import termios
    code = "import sys; sys.path.insert(0, %r)\n" % os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + code
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = start_script("-c", code, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait()
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_progress_in_a_terminal_clears_the_bar_before_a_log_line():
    """In a terminal (a pty here), a line written through the bar starts on a cleared line: the bar
    and the per-evaluation lines never overwrite each other."""
    returncode, text = _in_a_terminal(
        "from isp.progress import progress\n"
        "bar = progress(range(6), desc='training model', total=6, delay=0, mininterval=0)\n"
        "for i in bar:\n"
        "    if i % 3 == 2:\n"
        "        bar.write('step %d | log line' % (i + 1))\n"
        "bar.close()\n")
    assert returncode == 0, text
    assert "training model" in text  # a bar was drawn
    for step in (3, 6):
        before = text.split("step %d | log line" % step)[0]
        assert before.endswith("\r") and before.rstrip("\r").split("\r")[-1].strip() == "", repr(before[-200:])


def test_a_short_run_in_a_terminal_shows_its_lines_and_no_bar():
    """A run quicker than the bar's delay (a short training: its log lines written through the bar)
    prints its lines and nothing else: no 0% bar drawn after the last log line, and the next line
    (here "done", or an error line when it fails) starts on a line of its own."""
    for leave in (True, False):
        returncode, text = _in_a_terminal(
            "from isp.progress import progress\n"
            "bar = progress(range(4), desc='training model', total=4, delay=3600)\n"
            "for i in bar:\n"
            "    if i % 2 == 1:\n"
            "        bar.write('step %d | log line' % (i + 1))\n"
            "bar.leave = " + repr(leave) + "\n"
            "bar.close()\n"
            "print('done')\n")
        assert returncode == 0, text
        assert "training model" not in text, repr(text)
        lines = [l.strip("\r") for l in text.split("\n")]
        assert lines == ["step 2 | log line", "step 4 | log line", "done", ""], repr(text)


@pytest.mark.parametrize("words, line", [
    (["batch_size=0"], "bad value '0' for 'batch_size': expected positive integer"),
    (["learning_rate=inf"], "bad value 'inf' for 'learning_rate': expected positive finite number"),
    (["learning_rate=x"], "bad value 'x' for 'learning_rate': expected positive finite number"),
    (["augment=maybe"], "bad value 'maybe' for 'augment': expected True/False (also 1/0, yes/no)"),
])
def test_a_bad_value_names_what_is_expected_once(words, line):
    proc = run_script("train_model.py", *words)
    assert assert_usage_error(proc) == "train_model.py: error: " + line


@pytest.mark.parametrize("failure,says", [
    (BlockingIOError(errno.EWOULDBLOCK, "held"), "is in use by another training run (pid 1: python train_model.py)"),
    (OSError(errno.ENOLCK, os.strerror(errno.ENOLCK)), "cannot lock {path} (" + os.strerror(errno.ENOLCK) + ")"),
])
def test_runlock_tells_a_lock_held_elsewhere_from_a_file_system_that_cannot_lock(failure, says, tmp_path, monkeypatch):
    path = tmp_path / runlock.LOCK_NAME
    path.write_text("pid 1: python train_model.py\n")
    opened = []
    real_open = os.open
    monkeypatch.setattr(runlock.os, "open", lambda *a: opened.append(real_open(*a)) or opened[-1])

    def flock(fd, how):
        raise failure
    monkeypatch.setattr(runlock.fcntl, "flock", flock)
    with pytest.raises(UsageError) as err:
        runlock.hold(str(tmp_path))
    assert says.format(path=path) in str(err.value), str(err.value)
    assert ("in use by another" in str(err.value)) == isinstance(failure, BlockingIOError)
    with pytest.raises(OSError):  # the descriptor was closed
        os.fstat(opened[0])
    assert str(path) not in runlock._held


def _project_code():
    """{file name: its lines} of every .py file of the project (scripts and library, not tests)."""
    code = {}
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [s for s in subfolders if not s.startswith(".") and s != "tests"]
        for name in names:
            if name.endswith(".py"):
                with open(os.path.join(folder, name)) as f:
                    code[os.path.relpath(os.path.join(folder, name), ROOT)] = f.read().splitlines()
    return code


def test_durations_are_measured_by_monotonic_clocks():
    """time.time() jumps with the wall clock (NTP, a changed time zone): durations use
    time.monotonic() or time.perf_counter()."""
    found = ["%s:%d" % (name, i + 1) for name, lines in _project_code().items()
             for i, line in enumerate(lines) if "time.time()" in line]
    assert not found, found


def test_library_functions_take_named_parameters_not_a_scripts_command_line():
    """Only a script reads its parsed key=value dict (`a`/`args`, from its own Arg table); what it
    calls in the library takes named parameters."""
    import re
    found = []
    for name, lines in _project_code().items():
        if any(line.startswith('if __name__ == "__main__":') for line in lines):
            continue  # a script
        found += ["%s:%d" % (name, i + 1) for i, line in enumerate(lines) if re.search(r"\b(a|args)\[\"", line)]
    assert not found, found


def test_a_key_that_scripts_share_has_one_type_and_default_everywhere(tmp_path):
    import benchmark
    import export_challenge
    import inference_tflite
    import test_model
    import train_model
    from isp.args import RESTORE_ITER, RUNS, THREADS
    shared = {arg.name: arg for arg in (RESTORE_ITER, RUNS, THREADS)}
    seen = set()
    for script in (benchmark, export_challenge, inference_tflite, test_model, train_model):
        for arg in script.ARGS:
            if arg.name in shared:
                assert (arg.type, arg.default) == shared[arg.name][1:3], (script.__name__, arg)
                seen.add((script.__name__, arg.name))
    assert {("export_challenge", "restore_iter"), ("benchmark", "threads"), ("inference_tflite", "runs")} <= seen
    # restore_iter=latest is the newest checkpoint wherever a checkpoint is looked up by it
    from isp.checkpoints import find_checkpoint
    for it in (2, 4):
        for ext in (".index", ".data-00000-of-00001"):
            (tmp_path / ("model_iteration_%d.ckpt%s" % (it, ext))).write_bytes(b"")
    newest = find_checkpoint(str(tmp_path), "model", None)
    assert newest.endswith("model_iteration_4.ckpt") and find_checkpoint(str(tmp_path), "model", "latest") == newest
    assert parse_args(export_challenge.ARGS, ["restore_iter=latest"])["restore_iter"] == "latest"


CHILD = ("import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
         "print('ready', flush=True)\ntime.sleep(60)\n")


def test_a_child_runs_in_its_own_session_gets_each_signal_once_and_is_waited_for():
    how = dict(stdout=subprocess.PIPE, universal_newlines=True)
    with child_with_signals([sys.executable, "-c", CHILD], **how) as (proc, received):
        assert proc.stdout.readline() == "ready\n"
        assert os.getsid(proc.pid) != os.getsid(0)  # a Ctrl-C in the terminal reaches the parent only
        os.kill(os.getpid(), signal.SIGTERM)  # passed on, not ending the parent
    assert received == [signal.SIGTERM] and proc.returncode == 7
    proc.stdout.close()
    with pytest.raises(KeyError):  # an error in the parent's block: the child is stopped and waited for
        with child_with_signals([sys.executable, "-c", CHILD], **how) as (proc, received):
            assert proc.stdout.readline() == "ready\n"
            raise KeyError("the parent's own error")
    assert proc.returncode == 7 and received == []
    proc.stdout.close()
