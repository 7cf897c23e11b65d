"""Your own phone's RAW photos: DNG files -> the MAI21 RAW layout (16-bit PNG, 10-bit RGGB mosaic).

    python dng2png.py input=~/DCIM/IMG_0001.dng output=raw_images/test/my_phone/
    python dng2png.py input=~/DCIM/ output=raw_images/test/my_phone/      # every .dng in a folder
    python test_model.py test_dir=my_phone/ img_w=1920 img_h=1088        # then run a model on them

Each DNG is read with rawpy (LibRaw): the visible Bayer mosaic, minus the black level of each
pixel's colour channel, scaled so that the white level maps to 1023 (the 10-bit range the model was
trained on), rounded and stored as a single-channel 16-bit PNG. formats.md's debayer order expects
R at the top-left of every 2x2 cell (RGGB); a sensor with another arrangement (GRBG, GBRG, BGGR)
gets its crop shifted by one column and/or row, which the output line says, and the size is then
cut to even numbers. Refused with one line (exit code 2), before anything is written: files LibRaw
cannot read, non-Bayer sensors (X-Trans 6x6 patterns, Foveon and linear DNGs, which are already
demosaiced, 4-colour CFAs). The EXIF orientation is not applied: the mosaic stays as the sensor saw it.
"""
import os

import numpy as np

from utils import Arg, UsageError, ensure_dir, parse_args, progress, run_main

ARGS = [
    Arg("input", str, "", "a DNG file, or a folder: every .dng in it"),
    Arg("output", str, "raw_images/test/my_phone/", "folder for the 16-bit PNGs (<name>.png)"),
]
RAW_MAX = 1023  # 10-bit, as the MAI21 RAWs


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


def read_dng(path):
    """(mosaic, note): the RGGB-aligned 10-bit mosaic as uint16 [H, W] (H, W even), and what was
    done to get it ("pattern GRBG, shifted by 0 rows and 1 column; black 64, white 4095")."""
    import rawpy
    try:
        raw = rawpy.imread(path)
    except (rawpy.LibRawError, OSError, ValueError) as err:
        detail = err.args[0] if err.args else type(err).__name__
        detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise UsageError("cannot read %r as a camera RAW/DNG (LibRaw: %s)" % (path, detail))
    with raw:
        if raw.raw_type != rawpy.RawType.Flat:
            raise UsageError("%r holds no Bayer mosaic (a linear DNG or a Foveon/stacked sensor, already "
                             "demosaiced); only Bayer RAWs can be converted" % path)
        pattern = raw.raw_pattern
        if pattern is None or pattern.shape != (2, 2):
            raise UsageError("%r has a %s colour filter pattern (X-Trans?), not a 2x2 Bayer one; "
                             "it cannot be converted" % (path, "x".join(map(str, np.shape(pattern))) or "no"))
        desc = raw.color_desc.decode("ascii", "replace")
        cfa = "".join(desc[i] for i in pattern.flat)
        if sorted(cfa) != ["B", "G", "G", "R"]:
            raise UsageError("%r has the colour filter %s, not an RGB Bayer pattern (RGGB, GRBG, GBRG "
                             "or BGGR); it cannot be converted" % (path, cfa))
        dy, dx = divmod(cfa.index("R"), 2)
        mosaic = raw.raw_image_visible
        colors = raw.raw_colors_visible
        h, w = (mosaic.shape[0] - dy) // 2 * 2, (mosaic.shape[1] - dx) // 2 * 2
        if h < 2 or w < 2:
            raise UsageError("%r is too small (%dx%d)" % (path, mosaic.shape[1], mosaic.shape[0]))
        blacks = np.asarray(raw.black_level_per_channel, np.float32)
        white = float(raw.white_level)
        if white <= blacks.max():
            raise UsageError("%r has white level %g not above its black level %g" % (path, white, blacks.max()))
        values = mosaic[dy:dy + h, dx:dx + w].astype(np.float32)
        black = blacks[colors[dy:dy + h, dx:dx + w]]
        out = np.clip(np.round((values - black) * (RAW_MAX / (white - black))), 0, RAW_MAX).astype(np.uint16)
    black_text = "%g" % blacks[0] if len(set(blacks.tolist())) == 1 else "%s (%s)" % (
        "/".join("%g" % b for b in blacks), "/".join(desc[:len(blacks)]))
    note = "pattern %s, shifted by %d row%s and %d column%s to RGGB; black %s, white %g -> 0..%d; %dx%d" % (
        cfa, dy, "" if dy == 1 else "s", dx, "" if dx == 1 else "s", black_text, white, RAW_MAX, w, h)
    return out, note


def main(argv):
    a = parse_args(ARGS, argv, prog="dng2png.py", doc=__doc__)
    if not a["input"]:
        raise UsageError("give input= a DNG file or a folder of them (see help=True)")
    paths = list_dngs(a["input"])
    for path in progress(paths, desc="checking", unit="file", leave=False):
        read_dng(path)  # every refusal comes before anything is written
    ensure_dir(a["output"], "output folder")
    import previews
    for path in progress(paths, desc="converting", unit="file"):
        mosaic, note = read_dng(path)
        out = os.path.join(a["output"], os.path.splitext(os.path.basename(path))[0] + ".png")
        previews.save_png(out, mosaic)
        print("%s -> %s: %s" % (path, out, note))


if __name__ == "__main__":
    run_main(main)
