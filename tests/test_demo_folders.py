"""make_demo_data.py and demo.sh never delete or replace files they did not write."""
import os

import pytest

from conftest import ROOT, assert_usage_error, run_script
from make_demo_data import MARKER, make_dataset
from utils import UsageError, tf_major

TINY = dict(train_count=2, val_count=1, test_count=1, patch_size=32, test_h=64, test_w=64, seed=0, progress=False)


def test_overwrite_replaces_only_its_own_files(tmp_path):
    out = str(tmp_path / "data")
    make_dataset(out, **TINY)
    assert os.path.isfile(os.path.join(out, MARKER))
    mine = tmp_path / "data" / "train" / "notes.txt"
    mine.write_text("my notes")
    with pytest.raises(UsageError, match="overwrite=True"):
        make_dataset(out, **TINY)
    make_dataset(out, **dict(TINY, train_count=1, seed=1), overwrite=True)
    assert mine.read_text() == "my notes"
    assert sorted(os.listdir(os.path.join(out, "train", "mediatek_raw"))) == ["0.png"]  # 1.png was its own


def test_a_folder_it_did_not_make_is_never_touched(tmp_path):
    data = tmp_path / "raw_images"
    (data / "train" / "mediatek_raw").mkdir(parents=True)
    (data / "train" / "mediatek_raw" / "0.png").write_bytes(b"the user's RAW")
    proc = run_script("make_demo_data.py", "out=" + str(data), "overwrite=True", "train_count=1", "val_count=1",
                      "test_count=1", "patch_size=32", "test_h=64", "test_w=64")
    assert_usage_error(proc, "did not write", "out=")
    assert (data / "train" / "mediatek_raw" / "0.png").read_bytes() == b"the user's RAW"
    assert sorted(os.listdir(str(data))) == ["train"]


def test_demo_data_step_works_in_its_own_folder_and_keeps_foreign_files(tmp_path):
    """demo.sh's data step writes <DEMO>/raw_images/; run twice, a file of the user's there survives,
    and the repository's raw_images/ is not touched."""
    theirs = os.path.join(ROOT, "raw_images")
    before = sorted(os.listdir(theirs)) if os.path.isdir(theirs) else None
    demo = tmp_path / "demo"
    env = {"DEMO": str(demo), "DEMO_UNTIL": "1", "STACK": "tf1" if tf_major() == 1 else "tf2",
           "DEMO_DATA_ARGS": "train_count=2 val_count=1 test_count=1 patch_size=32 test_h=64 test_w=64"}
    proc = run_script("demo.sh", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mine = demo / "raw_images" / "test" / "my_notes.txt"
    mine.write_text("keep me")
    proc = run_script("demo.sh", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert mine.read_text() == "keep me"
    assert sorted(os.listdir(str(demo))) == ["raw_images"]  # nothing else: it stopped after the data
    assert (sorted(os.listdir(theirs)) if os.path.isdir(theirs) else None) == before
