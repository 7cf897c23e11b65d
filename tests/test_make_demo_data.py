"""make_demo_data.py: each of the effects of a real phone/DSLR pair does what it says; with the
effects off each RAW is the plain inverse ISP of its target; the same seed gives the same files and
another seed other ones; the val and test data do not depend on the training split."""
import glob
import os
import shutil

import numpy as np
import pytest
from conftest import assert_usage_error, run_script
from PIL import Image

from isp import load_dataset
import make_demo_data as mdd
from isp import photo_source as ps
from isp import unprocess as up
from isp import utils
from isp.errors import UsageError
from make_demo_data import MARKER, make_dataset
from isp.unprocess import inverse_isp

OFF = dict(mdd.NO_EFFECTS)
SMALL = dict(train_count=16, val_count=1, test_count=1, patch_size=32, test_h=64, test_w=96,
             seed=5, progress=False)


def make(tmp_path, name, **kwargs):
    out = mdd.make_dataset(str(tmp_path / name), **dict(SMALL, **kwargs))
    raws, rgbs = [], []
    for i in range(SMALL["train_count"]):
        raws.append(load_dataset.read_raw(os.path.join(out, "train", "mediatek_raw", "%d.png" % i)))
        rgbs.append(load_dataset.read_rgb(os.path.join(out, "train", "fujifilm", "%d.png" % i)))
    return out, raws, rgbs


def camera_means(raw, rgb):
    """Per-channel means of the RAW (R, G, B sites) and of the target taken back to camera space,
    over the 2x2 cells that are well exposed in both (no clipping, above the noise floor)."""
    planes = load_dataset.bayer_planes(raw).astype(np.float64)
    raw_c = np.stack([planes[..., 2], 0.5 * (planes[..., 1] + planes[..., 3]), planes[..., 0]], -1)
    cam = up.srgb_to_linear(rgb.astype(np.float64) / 255.0) @ np.linalg.inv(up.CCM).T
    h, w = raw_c.shape[:2]
    cam = cam.reshape(h, 2, w, 2, 3).mean(axis=(1, 3))
    ok = (cam.min(axis=-1) > 0.02) & (raw_c.min(axis=-1) > 8) & (raw_c.max(axis=-1) < 1000)
    good = int(ok.sum())
    if good < 100:  # a dark patch (the Hubble photo): too few cells to measure; use them all
        ok[:] = True
    return raw_c[ok].mean(axis=0), cam[ok].mean(axis=0), good


def implied_wb(raw, rgb):
    """log (R, B) white-balance gains implied by a pair, relative to G (exposure cancels)."""
    raw_m, cam_m, _ = camera_means(raw, rgb)
    gains = (cam_m / cam_m[1]) / (raw_m / raw_m[1])
    return np.log(gains[[0, 2]])


def measurable(raws, rgbs):
    """The pairs with enough well-exposed cells to measure a white balance on."""
    return [(r, t) for r, t in zip(raws, rgbs) if camera_means(r, t)[2] >= 100]


VAL_AND_TEST = (("val", "fujifilm"), ("val", "mediatek_raw"), ("test", "fujifilm"),
                ("test", "fujifilm_full_resolution"))


def split_files(out, split, sub):
    """The PNGs of out/split/sub in name order, as float arrays (at least one)."""
    found = [np.asarray(Image.open(p)).astype(float) for p in sorted(glob.glob(os.path.join(out, split, sub, "*.png")))]
    assert found, (out, split, sub)
    return found


def assert_same_split_files(out_a, out_b, splits):
    """Two datasets hold the same files, pixel for pixel, in each (split, sub) folder."""
    for split, sub in splits:
        a_files, b_files = split_files(out_a, split, sub), split_files(out_b, split, sub)
        assert len(a_files) == len(b_files), (split, sub)
        for a, b in zip(a_files, b_files):
            assert np.array_equal(a, b), (split, sub)


def dataset_bytes(out):
    """Every file under `out` (the marker too): {relative path: its bytes}."""
    found = {}
    for folder, _, names in os.walk(out):
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                found[os.path.relpath(os.path.join(folder, name), out)] = f.read()
    return found


def dataset_pairs(out):
    """(name, RAW as float, target) of every pair of a dataset: train, val and test."""
    for split, raw_sub in (("train", "mediatek_raw"), ("val", "mediatek_raw"), ("test", "fujifilm_full_resolution")):
        for path in sorted(glob.glob(os.path.join(out, split, raw_sub, "*.png"))):
            target = np.asarray(Image.open(os.path.join(out, split, "fujifilm", os.path.basename(path))))
            yield "%s/%s" % (split, os.path.basename(path)), np.asarray(Image.open(path)).astype(np.float64), target


def plain_isp_fit(raw, rgb):
    """How well the plain inverse ISP of the target explains the RAW: the target in linear light,
    through the colour matrix and daylight gains, mosaicked; the exposure that fits it to the RAW
    best (least squares) and the RMS of what is left, in units of the largest noise the plain ISP
    adds (shot noise 0.6 x the signal in DN, read noise 2 DN), over the sites clipped neither by
    the ISP nor the sensor. (exposure, residual)."""
    lin = up.srgb_to_linear(rgb.astype(np.float64) / 255.0)
    cam = np.clip(lin @ np.linalg.inv(up.CCM).T, 0.0, None) / np.asarray(up.WB_GAINS) * up.WHITE_LEVEL
    mosaic = np.empty(raw.shape)
    mosaic[0::2, 0::2] = cam[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = cam[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = cam[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = cam[1::2, 1::2, 2]
    ok = (raw > 0) & (raw < up.WHITE_LEVEL) & (mosaic < up.WHITE_LEVEL)
    exposure = (raw[ok] * mosaic[ok]).sum() / (mosaic[ok] ** 2).sum()
    z = (raw[ok] - exposure * mosaic[ok]) / np.sqrt(0.6 * exposure * mosaic[ok] + 2.0 ** 2)
    return exposure, np.sqrt(np.mean(z ** 2))


def _is_plain(exposure, residual):
    """One exposure in the plain ISP's range [0.8, 1] and nothing left but its noise."""
    return 0.79 < exposure < 1.01 and residual < 1.15


def test_effects_off_gives_the_plain_inverse_isp_of_each_target(tmp_path):
    kwargs = dict(train_count=12, val_count=3, test_count=2, patch_size=32, test_h=64, test_w=96, seed=5,
                  progress=False)
    off = mdd.make_dataset(str(tmp_path / "off"), effects=False, **kwargs)
    assert dataset_bytes(off) == dataset_bytes(mdd.make_dataset(str(tmp_path / "zero"), **dict(kwargs, **OFF)))
    fits = {name: plain_isp_fit(raw, rgb) for name, raw, rgb in dataset_pairs(off)}
    assert len(fits) == 17
    # daylight white balance, no exposure or ISO change, no blur, shift or DSLR look: every pair
    for name, fit in fits.items():
        assert _is_plain(*fit), (name, fit)
    # the check sees the effects: with them on (the default), no pair passes it
    on = mdd.make_dataset(str(tmp_path / "on"), **kwargs)
    fits = {name: plain_isp_fit(raw, rgb) for name, raw, rgb in dataset_pairs(on)}
    assert len(fits) == 17 and not [name for name, fit in fits.items() if _is_plain(*fit)], fits


def test_val_and_test_data_do_not_depend_on_the_training_split(tmp_path):
    kwargs = dict(val_count=3, test_count=1, patch_size=32, test_h=64, test_w=96, seed=4, progress=False)
    outs = [mdd.make_dataset(str(tmp_path / ("d%d" % i)), **dict(kwargs, **extra)) for i, extra in enumerate((
        dict(train_count=2), dict(train_count=11), dict(train_count=5, more_photos=False, recolour=0.0)))]
    for split, sub in VAL_AND_TEST:
        assert len(split_files(outs[0], split, sub)) == (3 if split == "val" else 1)
    for out in outs[1:]:
        assert_same_split_files(outs[0], out, VAL_AND_TEST)


def test_more_photos_adds_training_scenes_after_the_first_five(tmp_path):
    kwargs = dict(train_count=10, val_count=1, test_count=1, patch_size=32, test_h=64, test_w=96, seed=2,
                  progress=False, recolour=0.0)
    five = mdd.make_dataset(str(tmp_path / "five"), **dict(kwargs, more_photos=False))
    nine = mdd.make_dataset(str(tmp_path / "nine"), **kwargs)
    n_first = len(ps.FIRST_PHOTOS)
    assert ps.TRAIN_PHOTOS[:n_first] == ps.FIRST_PHOTOS and len(ps.TRAIN_PHOTOS) > n_first

    def target(out, i):
        return np.asarray(Image.open(os.path.join(out, "train", "fujifilm", "%d.png" % i)))
    for i in range(kwargs["train_count"]):  # one crop per photo in turn: the first five are shared
        assert np.array_equal(target(five, i), target(nine, i)) == (i < n_first), i


def test_defaults_have_every_effect_on():
    defaults = {a.name: a.default for a in mdd.ARGS}
    assert defaults["effects"] is True
    for key in mdd.EFFECT_KEYS:
        assert defaults[key] > 0, key


def test_white_balance_varies_between_scenes_along_the_daylight_locus(tmp_path):
    _, raws, rgbs = make(tmp_path, "wb", **dict(OFF, wb=1.0))
    wb = np.array([implied_wb(r, t) for r, t in measurable(raws, rgbs)])
    assert wb[:, 0].std() > 0.1 and wb[:, 1].std() > 0.1, wb          # R and B gains vary ...
    assert np.corrcoef(wb[:, 0], wb[:, 1])[0, 1] < -0.8, wb            # ... together (daylight locus)
    # the implied gains span tungsten-like (little R gain, much B gain) to shade-like pairs
    assert wb[:, 0].min() < np.log(1.6) and wb[:, 1].max() > np.log(2.3), np.exp(wb)
    _, raws, rgbs = make(tmp_path, "fixed", **OFF)
    fixed = np.array([implied_wb(r, t) for r, t in measurable(raws, rgbs)])
    assert len(fixed) >= 8
    assert fixed.std(axis=0).max() < 0.03, fixed                       # one daylight white balance
    np.testing.assert_allclose(np.exp(fixed.mean(axis=0)), [up.WB_GAINS[0], up.WB_GAINS[2]], rtol=0.06)


def test_wb_gains_follow_the_locus_ends():
    assert up.wb_gains(0.0) == pytest.approx(up.WB_GAINS)
    assert up.wb_gains(-1.0)[::2] == pytest.approx(up.TUNGSTEN_GAINS)
    assert up.wb_gains(1.0)[::2] == pytest.approx(up.SHADE_GAINS)


def test_exposure_and_noise_vary_between_scenes(tmp_path):
    # a flat grey scene through the inverse ISP, scene by scene, with the same base draws (rng)
    # with and without the effect: the ratio of the two is the effect alone
    grey = np.full((64, 64, 3), 128, np.uint8)

    def level_and_noise(seed, **kwargs):
        scene = up.draw_scene(np.random.RandomState([seed, 1]), dict(OFF, **kwargs))
        g = load_dataset.bayer_planes(up.inverse_isp(grey, np.random.RandomState(seed), scene))[..., 1]
        return g.mean(), g.std()
    expo = [np.log2(level_and_noise(s, exposure_stops=2.0)[0] / level_and_noise(s)[0]) for s in range(16)]
    iso = [np.log2(level_and_noise(s, iso_stops=2.0)[1] / level_and_noise(s)[1]) for s in range(16)]
    assert max(expo) <= 0.05 and min(expo) >= -2.05 and np.ptp(expo) > 1.0, expo   # darker, over 2 stops
    # an ISO gain G multiplies the read-noise sigma by G and the shot-noise sigma (at one DN level)
    # by sqrt(G): the noise rises by 1 to 2 stops at G = 4
    assert min(iso) >= -0.1 and max(iso) <= 2.1 and np.ptp(iso) > 0.5, iso
    # and in a dataset: the brightness of the RAW against its target varies between scenes
    def exposures(**kwargs):
        _, raws, rgbs = make(tmp_path, "e%d" % len(os.listdir(str(tmp_path))), **dict(OFF, **kwargs))
        return np.log2([camera_means(r, t)[0][1] / camera_means(r, t)[1][1] for r, t in measurable(raws, rgbs)])
    assert np.ptp(exposures()) < 0.5 and np.ptp(exposures(exposure_stops=2.0)) > 1.0


def test_dslr_look_on_the_targets(tmp_path):
    _, _, plain = make(tmp_path, "plain", **OFF)
    _, _, look = make(tmp_path, "look", **dict(OFF, look=1.0))
    plain, look = np.stack(plain).astype(np.float64), np.stack(look).astype(np.float64)
    assert np.abs(plain - look).mean() > 3                              # not the photo any more
    assert look.std() > plain.std()                                     # more contrast
    def chroma(x):
        return np.abs(x - x.mean(axis=-1, keepdims=True)).mean()
    assert chroma(look) > chroma(plain)                                 # more saturation
    def detail(x):
        return np.abs(np.diff(x, axis=2)).mean()
    assert detail(look) > detail(plain)                                 # sharper
    # the look is one fixed mapping: the same photo gives the same target whatever the scene
    photo = np.random.RandomState(0).randint(0, 256, (16, 16, 3)).astype(np.uint8)
    assert np.array_equal(mdd.dslr_look(photo, 1.0), mdd.dslr_look(photo.copy(), 1.0))
    assert np.array_equal(mdd.dslr_look(photo, 0.0), photo)


def test_phone_optics_soften_the_raw(tmp_path):
    def high_freq(**kwargs):
        _, raws, _ = make(tmp_path, "b%d" % len(os.listdir(str(tmp_path))), **dict(OFF, **kwargs))
        # energy of differences within one Bayer plane, relative to the plane's level
        g = [load_dataset.bayer_planes(r)[..., 1].astype(np.float64) for r in raws]
        return np.mean([np.abs(np.diff(p, axis=1)).mean() / max(p.mean(), 1) for p in g])
    assert high_freq(blur=1.0) < 0.9 * high_freq()


def test_misalignment_shifts_the_raw_against_the_target(tmp_path):
    shifts = [up.draw_scene(np.random.RandomState([5, 1]), dict(OFF, shift=1.0))["shift"] for _ in range(1)]
    assert 0 < max(abs(s) for s in shifts[0]) <= 1.0
    # a pair made with the shift differs from one made without by about a shift of that size
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8)[None, :, None], (64, 1, 3))
    rng = np.random.RandomState(0)
    scene = dict(up.draw_scene(np.random.RandomState(0), OFF), shift=(0.0, 1.0))
    moved = load_dataset.bayer_planes(up.inverse_isp(ramp, rng, scene)).astype(np.float64)
    still = load_dataset.bayer_planes(up.inverse_isp(ramp, np.random.RandomState(0), None)).astype(np.float64)
    inner = (slice(4, -4), slice(4, -4))
    # one full-resolution pixel along a linear ramp: a level change of one pixel's step
    step = np.diff(still[..., 1][inner], axis=1).mean() / 2
    assert abs((still[..., 1][inner] - moved[..., 1][inner]).mean() - step) < 0.35 * abs(step)


def test_splits_use_different_photos():
    assert not set(ps.TRAIN_PHOTOS) & set(ps.VAL_PHOTOS)
    assert not (set(ps.TRAIN_PHOTOS) | set(ps.VAL_PHOTOS)) & set(ps.TEST_PHOTOS)


def test_every_photo_loads_in_colour():
    for name in ps.TRAIN_PHOTOS + ps.VAL_PHOTOS + ps.TEST_PHOTOS:
        img = ps.load_photo(name)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 256, name
        assert not (np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2])), name
    for name, tint in ps.TEXTURE_TINTS.items():  # the grey textures in their colours
        means = ps.load_photo(name).reshape(-1, 3).mean(axis=0)
        assert np.argmax(means) == np.argmax(tint) and np.argmin(means) == np.argmin(tint), (name, means)


def test_recolour_turns_hues_about_the_grey_axis():
    grey = np.array([[[0, 0, 0], [60, 60, 60], [200, 200, 200]]], np.uint8)
    for angle, sat in ((0.7, 1.0), (-2.0, 1.4), (3.0, 0.5)):
        assert np.abs(mdd.recolour(grey, angle, sat).astype(int) - grey).max() <= 1
    red = np.array([[[180, 60, 60]]], np.uint8)
    assert np.abs(mdd.recolour(red, 0.0, 1.0).astype(int) - red).max() <= 1
    # a third of a turn takes red to green and green to blue (R -> G -> B about the grey axis)
    np.testing.assert_allclose(mdd.recolour(red, 2 * np.pi / 3, 1.0)[0, 0], [60, 180, 60], atol=1)
    np.testing.assert_allclose(mdd.recolour(red, 4 * np.pi / 3, 1.0)[0, 0], [60, 60, 180], atol=1)
    np.testing.assert_allclose(mdd.recolour(red, 0.0, 0.0)[0, 0], [100, 100, 100], atol=1)  # no colour left
    np.testing.assert_allclose(mdd.recolour(red, 0.0, 1.5)[0, 0], [220, 40, 40], atol=1)


def test_recolour_varies_the_training_colours_only(tmp_path):
    kwargs = dict(train_count=9, val_count=2, test_count=1, patch_size=32, test_h=64, test_w=96,
                  seed=3, progress=False)
    plain = mdd.make_dataset(str(tmp_path / "plain"), **dict(kwargs, **OFF))
    turned = mdd.make_dataset(str(tmp_path / "turned"), **dict(kwargs, **dict(OFF, recolour=1.0)))

    assert_same_split_files(plain, turned, VAL_AND_TEST)
    # with every other effect on too: recolour's draws are its own, so val and test stay as they were
    on = mdd.make_dataset(str(tmp_path / "on"), **kwargs)
    off = mdd.make_dataset(str(tmp_path / "on0"), **dict(kwargs, recolour=0.0))
    assert_same_split_files(on, off, VAL_AND_TEST)
    hue_moves = []
    for a, b in zip(split_files(plain, "train", "fujifilm"), split_files(turned, "train", "fujifilm")):
        assert a.shape == b.shape
        # the same crop, recoloured: brightness (channel mean) mostly kept, the colours moved
        assert np.median(np.abs(a.mean(-1) - b.mean(-1))) < 12
        hue_moves.append(np.abs(a - b).mean())
    assert max(hue_moves) > 10 and np.mean(hue_moves) > 5, hue_moves


def test_preview_picture_and_the_summary_line(tmp_path):
    out, preview = str(tmp_path / "d"), str(tmp_path / "pairs.png")
    proc = run_script("make_demo_data.py", "out=" + out, "train_count=3", "val_count=1", "test_count=1",
                      "patch_size=32", "test_h=64", "test_w=64", "preview=" + preview)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "effects: wb=1, exposure_stops=1, iso_stops=1.5, look=1, blur=0.6, shift=1, recolour=0.5" in proc.stdout
    assert "training crops from 3 of the %d training photos\n" % len(ps.TRAIN_PHOTOS) in proc.stdout
    img = np.asarray(Image.open(preview))
    # three pairs, two to a row (RAW | target | RAW | target) under a line of labels
    assert img.shape[0] > 2 * 32 and img.shape[1] >= 4 * 32 and img.shape[2] == 3
    assert_usage_error(run_script("make_demo_data.py", "out=" + str(tmp_path / "e"), "blur=-1"), "'blur'")


# the generated dataset's layout, RGGB sites and reproducibility

def test_demo_dataset_layout(demo_data):
    for split in ("train", "val"):
        names = load_dataset.paired_names(demo_data, split, "mediatek_raw/", "fujifilm/")
        assert len(names) == {"train": 12, "val": 4}[split]
        raw = load_dataset.read_raw(os.path.join(demo_data, split, "mediatek_raw", names[0]))
        rgb = load_dataset.read_rgb(os.path.join(demo_data, split, "fujifilm", names[0]))
        assert raw.dtype == np.uint16 and raw.shape == (64, 64) and raw.max() <= 1023
        assert rgb.dtype == np.uint8 and rgb.shape == (64, 64, 3)
    test_raw = load_dataset.read_raw(os.path.join(demo_data, "test", "fujifilm_full_resolution", "1.png"))
    assert test_raw.shape == (128, 192)
    assert load_dataset.read_rgb(os.path.join(demo_data, "test", "fujifilm", "1.png")).shape == (128, 192, 3)


def test_inverse_isp_puts_colours_on_the_rggb_sites():
    rng = np.random.RandomState(0)
    red = np.zeros((64, 64, 3), np.uint8)
    red[..., 0] = 230
    blue = np.zeros((64, 64, 3), np.uint8)
    blue[..., 2] = 230
    for img, strong, weak in ((red, 2, 0), (blue, 0, 2)):   # planes: 0=B, 2=R
        planes = load_dataset.bayer_planes(inverse_isp(img, rng)).astype(float)
        means = planes.mean(axis=(0, 1))
        assert means[strong] > 5 * means[weak] + 20, means


def test_the_same_seed_gives_the_same_files_and_another_seed_other_data(tmp_path):
    kwargs = dict(train_count=3, val_count=2, test_count=2, patch_size=32, test_h=64, test_w=64, progress=False)
    a, b, c = (dataset_bytes(make_dataset(str(tmp_path / name), seed=seed, **kwargs))
               for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    assert a == b  # byte for byte, every file
    assert sorted(a) == sorted(c)
    # another seed: other crops and noise; only the test targets (whole scenes, no noise) and the
    # marker (the list of files) are the same
    assert sorted(rel for rel in a if a[rel] == c[rel]) == [MARKER, "test/fujifilm/1.png", "test/fujifilm/2.png"]


# never replacing or deleting files it did not write

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


CRASH_AT_THE_KTH_CHANGE = """
import os, shutil, sys
import make_demo_data
from isp import utils
k, calls = int(sys.argv[1]), [0]
if sys.argv[4] == "renames":  # a system without the one-step exchange
    utils._exchange = lambda a, b: False


def crashing(f):
    def g(*args, **kwargs):
        calls[0] += 1
        if calls[0] == k:
            os._exit(9)  # as a kill -9 or a power cut: no clean-up runs
        return f(*args, **kwargs)
    return g


for module, name in ((os, "rename"), (os, "replace"), (os, "link"), (os, "makedirs"), (shutil, "rmtree"),
                     (utils, "_exchange")):
    setattr(module, name, crashing(getattr(module, name)))
make_demo_data.swap_in(sys.argv[2], sys.argv[3], True)
"""


@pytest.mark.parametrize("how", ["exchange", "renames"])
def test_a_crash_while_the_new_dataset_is_swapped_in_leaves_the_old_one_or_the_new_one(how, tmp_path):
    """Killed at each file-system change of swap_in in turn, out holds the earlier dataset or the
    new one, whole, with the user's own file (on a system without the one-step exchange: once the
    next run has put the set-aside folder back)."""
    out, fresh = str(tmp_path / "data"), str(tmp_path / "fresh")
    make_dataset(fresh, **dict(TINY, train_count=1, seed=1))
    os.remove(os.path.join(fresh, MARKER))  # as the run's .partial folder is before swap_in
    make_dataset(out, **TINY)
    (tmp_path / "data" / "train" / "notes.txt").write_text("my notes")
    old = dataset_bytes(out)
    new = dict(dataset_bytes(fresh), **{os.path.join("train", "notes.txt"): b"my notes"})
    new[MARKER] = b"".join(("%s\n" % rel).encode() for rel in mdd._files_under(fresh))
    pristine = str(tmp_path / "old_copy")
    shutil.copytree(out, pristine)
    seen, k = [], 0
    while True:
        k += 1
        for folder in (out, out + ".partial", utils.set_aside_path(out)):
            shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(pristine, out)
        shutil.copytree(fresh, out + ".partial")
        proc = run_script("-c", CRASH_AT_THE_KTH_CHANGE, k, out + ".partial", out, how)
        utils.restore_set_aside(out)
        after = dataset_bytes(out)
        assert after in (old, new), (k, sorted(set(after) ^ set(old)), sorted(set(after) ^ set(new)))
        seen.append("new" if after == new else "old")
        if proc.returncode == 0:
            break
        assert proc.returncode == 9, proc.stderr
    assert seen[0] == "old" and seen[-1] == "new" and not os.path.exists(out + ".partial"), seen


def test_a_folder_it_did_not_make_is_never_touched(tmp_path):
    data = tmp_path / "raw_images"
    (data / "train" / "mediatek_raw").mkdir(parents=True)
    (data / "train" / "mediatek_raw" / "0.png").write_bytes(b"the user's RAW")
    proc = run_script("make_demo_data.py", "out=" + str(data), "overwrite=True", "train_count=1", "val_count=1",
                      "test_count=1", "patch_size=32", "test_h=64", "test_w=64")
    assert_usage_error(proc, "did not write", "out=")
    assert (data / "train" / "mediatek_raw" / "0.png").read_bytes() == b"the user's RAW"
    assert sorted(os.listdir(str(data))) == ["train"]
