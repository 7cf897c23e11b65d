"""demo.sh: it works in folders of its own and never deletes or replaces files it did not write."""
import os

from conftest import ROOT, run_script

from isp.tfimport import tf_major


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
