"""benchmark.py's horovod mode: training images per second of the first arch under
`horovodrun -np R --gloo` for R = 1 and 2 ranks, from the difference between `iters` and
2 x `iters` iterations (start-up and the one validation cancel out)."""
import os
import subprocess
import sys
import tempfile

from isp import load_dataset
from isp.bench.train import train_command
from isp.errors import RunFailure, UsageError
from isp.tfimport import tf_version
from isp.train_log import find_log, read_log_lines
from isp.utils import plural


def horovod(archs, seed, dataset_dir, batch_size, patch, iters):
    """Print the images per second of the first arch of archs [(arch, nmb)] with 1 and 2 ranks,
    batch_size patches of side `patch` per rank, from `iters` and 2 x `iters` iterations."""
    load_dataset.paired_names(dataset_dir, "train", "mediatek_raw/", "fujifilm/")
    runner = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    if subprocess.run([sys.executable, "-c", "import horovod.tensorflow"], stderr=subprocess.DEVNULL).returncode:
        raise UsageError("mode=horovod needs Horovod in this stack: bash setup_env.sh tf2-horovod, then "
                         ".venv-tf2-horovod/bin/python benchmark.py mode=horovod (or WITH_HOROVOD=1 bash "
                         "setup_env.sh tf1 and .venv-tf1/bin/python)")
    arch, nmb = archs[0]
    rates, spans = {}, {}
    for ranks in (1, 2):
        seconds = {}
        for run_iters in (iters, 2 * iters):
            with tempfile.TemporaryDirectory() as model_dir:
                cmd = [runner, "-np", str(ranks), "-H", "localhost:%d" % ranks, "--gloo"] + train_command(
                    arch, nmb, seed, model_dir, run_iters, run_iters, "distributed=True", dataset_dir=dataset_dir,
                    batch_size=batch_size, patch=patch)
                print("%s, %d iterations ..." % (plural(ranks, "rank"), run_iters), flush=True)
                proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
                if proc.returncode != 0:
                    last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
                    raise RunFailure("horovodrun failed (exit %d) with %s, %d iterations: %s" % (
                        proc.returncode, plural(ranks, "rank"), run_iters, last))
                seconds[run_iters] = read_log_lines(find_log(model_dir, arch, 0, run_iters))[-1]["seconds"]
        spans[ranks] = seconds[2 * iters] - seconds[iters]
        rates[ranks] = ranks * batch_size * iters / max(spans[ranks], 1e-9)
    print("Horovod (Gloo, CPU), TF %s, %d CPUs; %s:%d, batch %d per rank, %dx%d patches; images/s from "
          "%d vs %d iterations" % (tf_version(), os.cpu_count(), arch, nmb, batch_size, patch, patch,
                                   iters, 2 * iters))
    print("%-6s %10s %12s" % ("ranks", "images/s", "efficiency"))
    for ranks, rate in rates.items():
        print("%-6d %10.1f %12.2f" % (ranks, rate, rate / (ranks * rates[1])))
    if min(spans.values()) < 3.0:  # the logs give seconds to 0.1 s
        print("note: the %d extra iterations took only %.1f s; the logs time to 0.1 s, so these rates are "
              "rough: raise iters for a measurement" % (iters, min(spans.values())))
