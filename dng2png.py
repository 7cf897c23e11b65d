"""Your own phone's RAW photos: DNG files -> the MAI21 RAW layout (16-bit PNG, 10-bit RGGB mosaic).

    python dng2png.py input=~/DCIM/IMG_0001.dng output=raw_images/test/my_phone/
    python dng2png.py input=~/DCIM/ output=raw_images/test/my_phone/      # every .dng in a folder
    python test_model.py test_dir=my_phone/ img_h=full img_w=full        # then run a model on them

No DNG at hand? make_demo_data.py writes its test scenes also as a GRBG sensor's DNGs, to
<out>/test/dng/ (its key dng=True, the default).

Each DNG is read with rawpy (LibRaw): the visible Bayer mosaic, minus the black level of each
pixel's colour channel, scaled so that the white level maps to 1023 (the 10-bit range the model was
trained on), rounded and stored as a single-channel 16-bit PNG. The debayering (isp/load_dataset.py) expects
R at the top-left of every 2x2 cell (RGGB); a sensor with another arrangement (GRBG, GBRG, BGGR)
gets its crop shifted by one column and/or row, which the output line says, and the size is then
cut to even numbers (a 1920x1088 GRBG sensor gives 1918x1088: hence img_w=full above). Refused
with one line (exit code 2), before anything is written: files LibRaw cannot read, non-Bayer
sensors (X-Trans 6x6 patterns, Foveon and linear DNGs, which are already demosaiced, 4-colour CFAs). The EXIF orientation is not applied: the mosaic stays as the sensor saw it.
"""
import os

from isp.errors import UsageError, run_main  # first: a third-party module missing below is one line (isp/errors.py)

from isp import previews
from isp.args import Arg, parse_args
from isp.load_dataset import read_dng
from isp.progress import progress
from isp.utils import ensure_dir

ARGS = [
    Arg("input", str, "", "a DNG file, or a folder: every .dng in it"),
    Arg("output", str, "raw_images/test/my_phone/", "folder for the 16-bit PNGs (<name>.png)"),
]


def list_dngs(path):
    """The DNG files named by `path` (a file, or a folder's *.dng), sorted; UsageError if none."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise UsageError("input %r does not exist (give a .dng file or a folder of them)" % path)
    names = sorted(n for n in os.listdir(path) if n.lower().endswith(".dng"))
    if not names:
        raise UsageError("folder %r holds no .dng files" % path)
    return [os.path.join(path, n) for n in names]


def main(argv):
    a = parse_args(ARGS, argv, prog="dng2png.py", doc=__doc__)
    if not a["input"]:
        raise UsageError("give input= a DNG file or a folder of them (see help=True)")
    paths = list_dngs(a["input"])
    for path in progress(paths, desc="checking", unit="file", leave=False):
        read_dng(path)  # every refusal comes before anything is written
    ensure_dir(a["output"], "output folder")
    for path in progress(paths, desc="converting", unit="file"):
        mosaic, note = read_dng(path)
        out = os.path.join(a["output"], os.path.splitext(os.path.basename(path))[0] + ".png")
        previews.save_png(out, mosaic)
        print("%s -> %s: %s" % (path, out, note))


if __name__ == "__main__":
    run_main(main)
