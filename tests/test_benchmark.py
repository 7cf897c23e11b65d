"""benchmark.py runs both modes and prints one row per arch (behaviour only, never timings)."""
import re

from conftest import assert_usage_error, run_script


def test_speed_mode_prints_a_row_per_arch():
    proc = run_script("benchmark.py", "archs=model,punet:8", "img_h=64", "img_w=96", "patch=64",
                      "batch_size=2", "runs=1", "threads=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^(model:16|punet:8)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                      r"\s+([\d.]+)\s+([\d.]+)$", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["model:16", "punet:8"], proc.stdout
    assert int(rows[0][1]) == 17776
    assert rows[0][4] == rows[0][6] == rows[0][8] == "1.000"  # ratios are to the first arch
    assert float(rows[1][2]) > float(rows[0][2])               # PUNET costs more GFLOP


def test_quality_mode_trains_each_arch(demo_data):
    proc = run_script("benchmark.py", "mode=quality", "archs=model,punet:4", "dataset_dir=" + demo_data,
                      "iters=2", "patch=64", "batch_size=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^(model:16|punet:4)\s+([\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+\d+$", proc.stdout, re.M)
    assert [r[0] for r in rows] == ["model:16", "punet:4"], proc.stdout


def test_bad_archs():
    assert_usage_error(run_script("benchmark.py", "archs=model,unet"), "unknown arch 'unet'")
    assert_usage_error(run_script("benchmark.py", "archs=punet", "img_h=1000"), "multiple of 32")
    assert_usage_error(run_script("benchmark.py", "mode=fast"), "mode=")
    assert_usage_error(run_script("benchmark.py", "archs=model:7"), "even")
