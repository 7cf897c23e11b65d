"""Check a dataset's pairs before a long training run: finds misaligned pairs, pairs of another
scene, clipped or over-exposed RAWs, brightness and colour outliers and file problems.

    python check_dataset.py dataset_dir=raw_images/ split=train,val out=dataset_check/

In one pass, one pair at a time (any dataset size): the file checks the training does (all of them,
counted, not only the first), the RAW's value range (the white level it implies) and clipped share,
the misalignment RAW -> target in target pixels (phase correlation of the RAW, debayered and brought
to the target's colour roughly, against the target; positive shift_x / shift_y where the target's
content lies right of / below the RAW's) and the correlation left after aligning, and brightness
and colour against the dataset's own spread. Writes <out>/pairs.csv (one row per pair),
<out>/exclude.txt (the bad pairs, one split/name a line, for train_model.py exclude=) and
<out>/worst_pairs.jpg (RAW preview | target | difference of the worst pairs, labelled), and prints a
summary. Exit code 0 whatever it finds; bad arguments or folders: one line, exit code 2. On demo
data, truth=<dataset_dir>/shifts.csv compares the shifts found with the true ones.
"""
import os

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

from isp import dataset_check
from isp.args import Arg, optional_path, parse_args, positive_float, positive_int, to_bool
from isp.utils import ensure_dir

ARGS = [
    Arg("dataset_dir", str, "raw_images/", "dataset root (train/, val/, test/ inside)"),
    Arg("split", str, "train,val", "the split folders to check, comma-separated (e.g. train,val,test)"),
    Arg("phone_dir", str, "mediatek_raw/", "RAW sub-folder of each split (huawei_raw/ in the Zurich set)"),
    Arg("dslr_dir", str, "fujifilm/", "target sub-folder of each split (canon/ in the Zurich set)"),
    Arg("test_dir", str, "", "RAW sub-folder of test/ where it is not phone_dir (e.g. fujifilm_full_resolution/)"),
    Arg("out", str, "dataset_check/", "folder for pairs.csv, exclude.txt and worst_pairs.jpg"),
    Arg("worst", positive_int, 8, "how many of the worst pairs the summary lists and the contact sheet shows"),
    Arg("max_shift", positive_float, 4.0, "a pair shifted by more than this many target pixels is bad"),
    Arg("min_corr", float, 0.5, "a pair whose correlation after aligning is below this is bad (another scene?)"),
    Arg("max_clipped", positive_float, 0.05, "a pair whose RAW or target has more than this share clipped is bad"),
    Arg("max_z", positive_float, 8.0, "a pair whose brightness or colour is further than this many robust "
        "standard deviations from the dataset's median is bad"),
    Arg("truth", optional_path, None, "make_demo_data.py's shifts.csv: also print how close the shifts came "
        "to the true ones and whether the pairs it spoilt on purpose are among the worst"),
    Arg("overwrite", to_bool, False, "replace the files of an earlier check in out"),
]


def main(argv):
    a = parse_args(ARGS, argv, doc=__doc__)
    if not a["min_corr"] < 1:
        raise UsageError("min_corr=%g must be below 1" % a["min_corr"])
    splits = [s.strip() for s in a["split"].split(",") if s.strip()]
    if not splits or len(set(splits)) != len(splits):
        raise UsageError("split=%r: name each split folder once, comma-separated (e.g. split=train,val)" % a["split"])
    if not os.path.isdir(a["dataset_dir"]):
        raise UsageError("dataset folder %r does not exist (set dataset_dir=, or make the demo data with: "
                         "python make_demo_data.py)" % a["dataset_dir"])
    dataset_check.check_outputs(a["out"], a["overwrite"])
    truth = dataset_check.read_truth(a["truth"]) if a["truth"] else None
    pairs, notes, paths = [], [], {}
    for split in splits:
        raw_key = "test_dir" if split == "test" and a["test_dir"] else "phone_dir"
        found, split_notes = dataset_check.split_pairs(a["dataset_dir"], split, a[raw_key], a["dslr_dir"], raw_key)
        notes.extend(split_notes)
        for name, raw_path, rgb_path in found:
            pairs.append((split, name, raw_path, rgb_path))
            paths[(split, name)] = (raw_path, rgb_path)
    limits = dataset_check.Limits(a["max_shift"], a["min_corr"], a["max_clipped"], a["max_z"])
    rows, seconds = dataset_check.check_pairs(pairs)
    white = dataset_check.judge(rows, limits)
    shown = dataset_check.worst(rows, a["worst"])
    ensure_dir(a["out"], "out")
    dataset_check.write_csv(os.path.join(a["out"], "pairs.csv"), rows)
    dataset_check.write_exclude(os.path.join(a["out"], "exclude.txt"), rows)
    dataset_check.write_sheet(os.path.join(a["out"], "worst_pairs.jpg"), shown, paths)
    print(dataset_check.summary(rows, white, seconds, limits, notes, a["out"], shown))
    if truth is not None:
        print(dataset_check.against_truth(truth, a["truth"], rows, shown))


if __name__ == "__main__":
    run_main(main)
