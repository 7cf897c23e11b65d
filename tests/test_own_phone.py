"""Training data for your own phone (make_demo_data.py profile= and photos_dir=): the profile read
from a DNG with known tags, a grey card unprocessed with it and read back through the DNG path,
the fallbacks for missing tags, the photo folder's split, EXIF orientation, skipped photos and
bounded memory, and the one-line refusals."""
import gc
import os
import weakref

import numpy as np
import pytest
from conftest import BLACK, assert_usage_error, run_script, write_dng
from PIL import Image

from isp import camera_profile
from isp import load_dataset
import make_demo_data as mdd
from isp import photo_source
from isp import unprocess
from isp.errors import UsageError

# A phone's profile as its DNG would hold it (the values of a typical phone sensor)
CM_A = [[0.95, -0.30, -0.05], [-0.45, 1.30, 0.15], [-0.10, 0.25, 0.45]]     # ColorMatrix1, illuminant A
CM_D65 = [[0.70, -0.20, -0.08], [-0.50, 1.35, 0.15], [-0.10, 0.20, 0.62]]  # ColorMatrix2, D65
FM_A = [[0.62, 0.25, 0.09], [0.24, 0.85, -0.09], [0.03, -0.22, 1.02]]       # ForwardMatrix1/2
FM_D65 = [[0.66, 0.20, 0.10], [0.27, 0.80, -0.07], [0.02, -0.12, 0.93]]
NEUTRAL = (0.52, 1.0, 0.71)
NOISE = [(2.0e-4, 4.0e-6), (1.5e-4, 3.0e-6), (2.5e-4, 5.0e-6)]  # (S, O) for R, G, B
TAGS = dict(matrix=CM_A, matrix2=CM_D65, illuminants=(17, 21), forward=[FM_A, FM_D65], neutral=NEUTRAL,
            noise_profile=NOISE)


def phone_dng(path, cfa="GRBG", **tags):
    """A small DNG of a phone with the profile above (tags override; None leaves one out)."""
    mosaic = np.random.RandomState(0).randint(BLACK[0], 1000, (64, 96)).astype(np.uint16)
    return write_dng(str(path), mosaic, cfa, white=1023, **dict(TAGS, **tags))


@pytest.mark.parametrize("cfa", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_the_profile_reads_back_what_was_written(cfa, tmp_path):
    p = camera_profile.read_profile(phone_dng(tmp_path / "phone.dng", cfa))
    assert p.cfa == cfa and p.black == tuple(float(b) for b in BLACK) and p.white == 1023 and p.bits == 10
    assert [code for code, _ in p.matrices] == [17, 21]
    np.testing.assert_allclose(p.matrices[0][1], CM_A, atol=1e-6)
    np.testing.assert_allclose(p.matrices[1][1], CM_D65, atol=1e-6)
    np.testing.assert_allclose(p.forward, [FM_A, FM_D65], atol=1e-6)
    np.testing.assert_allclose(p.neutral, NEUTRAL, atol=1e-6)
    np.testing.assert_allclose(p.noise, NOISE, rtol=1e-9)
    assert p.notes == []  # nothing missing: no default taken
    # between the two illuminants the colour matrix is interpolated in 1/T
    mid = 2.0 / (1 / 2856.0 + 1 / 6504.0)
    np.testing.assert_allclose(p.color_matrix(mid), (np.array(CM_A) + CM_D65) / 2, atol=1e-9)


def grey_card_through_a_dng(profile_path, out_path, scene=None):
    """A mid-grey card unprocessed with the profile, written as that phone's DNG and read back the way
    dng2png.py reads one: (mean R, G, B of the RGGB-aligned 10-bit mosaic, the DNG's AsShotNeutral)."""
    camera = unprocess.ProfileCamera(camera_profile.read_profile(profile_path))
    record = {}
    grey = np.full((64, 64, 3), 118, np.uint8)
    raw = unprocess.inverse_isp(grey, np.random.RandomState(1), scene, 0.0, camera, record)
    unprocess.write_scene_dng(out_path, raw, camera, record, "test")
    mosaic, _ = load_dataset.read_dng(out_path)
    planes = load_dataset.bayer_planes(mosaic).astype(np.float64).mean(axis=(0, 1))
    return np.array([planes[2], (planes[1] + planes[3]) / 2, planes[0]]), camera_profile.read_profile(out_path).neutral


@pytest.mark.parametrize("forward", [True, False])
def test_a_grey_card_is_neutral_after_the_profiles_white_balance(forward, tmp_path):
    phone = phone_dng(tmp_path / "phone.dng", forward=[FM_A, FM_D65] if forward else None)
    rgb, neutral = grey_card_through_a_dng(phone, str(tmp_path / "card.dng"))
    np.testing.assert_allclose(neutral, NEUTRAL, atol=1e-6)   # the shot's own light
    assert abs(rgb[0] / rgb[1] - NEUTRAL[0]) < 0.1 and rgb[1] > 100  # the RAW itself is not neutral ...
    balanced = rgb / neutral
    np.testing.assert_allclose(balanced / balanced[1], 1.0, atol=0.02)  # ... after AsShotNeutral it is
    # a scene's own light (drawn around AsShotNeutral): another neutral, and the card neutral under it
    strengths = dict(mdd.NO_EFFECTS, wb=1.0)
    scene = dict(unprocess.draw_scene(np.random.RandomState(3), strengths), light=(-0.8, 1.0, (0.01, -0.02)))  # warm light
    rgb, neutral = grey_card_through_a_dng(phone, str(tmp_path / "card2.dng"), scene)
    assert np.abs(np.log(neutral / np.asarray(NEUTRAL))).max() > 0.05, neutral
    balanced = rgb / neutral
    np.testing.assert_allclose(balanced / balanced[1], 1.0, atol=0.02)


def test_lights_span_the_profiles_locus_around_as_shot_neutral(tmp_path):
    p = camera_profile.read_profile(phone_dng(tmp_path / "phone.dng"))
    np.testing.assert_allclose(p.scene_neutral(p.shot_kelvin), NEUTRAL, atol=1e-9)
    warm, cold = p.scene_neutral(unprocess.LOCUS_ENDS_K[0]), p.scene_neutral(unprocess.LOCUS_ENDS_K[1])
    assert warm[0] > NEUTRAL[0] > cold[0] and warm[2] < NEUTRAL[2] < cold[2], (warm, cold)  # tungsten: red, shade: blue
    # wb=1 draws over the whole range whatever the shot's light; less pulls towards it; 0 is it
    assert unprocess.locus_kelvin(-1.0, 1.0, p.shot_kelvin) == pytest.approx(unprocess.LOCUS_ENDS_K[0])
    assert unprocess.locus_kelvin(1.0, 1.0, p.shot_kelvin) == pytest.approx(unprocess.LOCUS_ENDS_K[1])
    assert unprocess.locus_kelvin(0.7, 0.0, p.shot_kelvin) == pytest.approx(p.shot_kelvin)


def test_noise_follows_the_noise_profile_and_falls_back_as_documented(tmp_path):
    grey = np.full((128, 128, 3), 118, np.uint8)

    def g_noise(path):
        camera = unprocess.ProfileCamera(camera_profile.read_profile(str(path)))
        record = {}
        raw = unprocess.inverse_isp(grey, np.random.RandomState(2), None, 0.0, camera, record)
        g = load_dataset.bayer_planes(raw)[..., 1].astype(np.float64)
        return g.mean(), g.std(), record["noise"], camera.notes
    read_only = [(0.0, (6.0 / 1023) ** 2)] * 3  # a read noise of 6 DN at 10 bits, no shot noise
    mean, std, noise, notes = g_noise(phone_dng(tmp_path / "read.dng", noise_profile=read_only))
    np.testing.assert_allclose(noise, read_only, rtol=1e-6)
    assert 5.4 < std < 6.6, std
    assert not [n for n in notes if "NoiseProfile" in n]
    mean, std, noise, notes = g_noise(phone_dng(tmp_path / "none.dng", noise_profile=None))
    (note,) = [n for n in notes if "NoiseProfile" in n]
    assert note.startswith("no NoiseProfile: the demo noise model is used") and "0.2-0.6" in note, note
    shot, read = noise[1][0] * 1023, np.sqrt(noise[1][1]) * 1023  # the demo's draws
    assert unprocess.SHOT_RANGE[0] <= shot <= unprocess.SHOT_RANGE[1] and unprocess.READ_RANGE[0] <= read <= 2.0
    assert abs(std - np.sqrt(shot * mean + read ** 2)) < 0.15 * std
    # the script names each default it takes
    out = str(tmp_path / "data")
    bare = phone_dng(tmp_path / "bare.dng", noise_profile=None, neutral=None, forward=None)
    proc = run_script("make_demo_data.py", "out=" + out, "profile=" + bare, "train_count=2", "val_count=1",
                      "test_count=1", "patch_size=32", "test_h=64", "test_w=64")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for needle in ("note: no NoiseProfile: the demo noise model is used", "note: no AsShotNeutral: the profile's D65",
                   "note: no ForwardMatrix", "profile %s: GRBG, black 60/64/72/68, white 1023 (10-bit)" % bare):
        assert needle in proc.stdout, (needle, proc.stdout)
    # its sample DNGs are that phone's: its layout, levels and colour matrices, a scene's light
    sample = camera_profile.read_profile(os.path.join(out, "test", "dng", "1.dng"))
    assert sample.cfa == "GRBG" and sample.white == 1023 and sample.noise is not None
    np.testing.assert_allclose(sample.matrices[1][1], CM_D65, atol=1e-6)


def _xtrans(path):
    mosaic = np.zeros((66, 96), np.uint16) + 100
    return write_dng(str(path), mosaic, "GGRGGBGGBGGRBRGRBGGGBGGRGGRGGBRBGBRG", repeat=(6, 6))


def _no_matrix(path):
    return phone_dng(path, matrix=False, matrix2=None, forward=None)


def _unreadable(path):
    with open(str(path), "wb") as f:
        f.write(b"II*\x00 not a DNG")
    return str(path)


@pytest.mark.parametrize("make,needle", [(_xtrans, "not a 2x2 Bayer one"), (_no_matrix, "has no ColorMatrix1"),
                                         (_unreadable, "cannot read")])
def test_a_profile_that_cannot_be_honoured_is_refused_in_one_line(make, needle, tmp_path):
    bad = make(tmp_path / "bad.dng")
    with pytest.raises(UsageError, match=needle):
        camera_profile.read_profile(bad)
    out = str(tmp_path / "data")
    assert_usage_error(run_script("make_demo_data.py", "out=" + out, "profile=" + bad, "train_count=1"), needle, "bad.dng")
    assert not os.path.exists(out) and not os.path.exists(out + ".partial")


# a folder of the user's photos

def _save(path, rgb, exif_orientation=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = Image.fromarray(rgb)
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(path, exif=exif, quality=95)
    else:
        img.save(path)


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((32, 64, 3), np.uint8)  # 64 wide, 32 high: red left half, blue right half
    stored[:, :32, 0] = 255
    stored[:, 32:, 2] = 255
    path = str(tmp_path / "p" / "rotated.jpg")
    _save(path, stored, exif_orientation=6)  # 6: shown turned 90 degrees clockwise
    upright = photo_source.read_photo(path)
    assert upright.shape == (64, 32, 3)
    assert upright[:28, :, 0].mean() > 200 and upright[36:, :, 2].mean() > 200  # red on top, blue below


PHOTOS = 30


def photo_folder(root):
    """PHOTOS photos of one flat colour each (their index in the red channel), in sub-folders, as PNG
    and JPEG; two too small for a 32-pixel patch, a file that is not an image and a text file."""
    colours = {}
    for i in range(PHOTOS):
        rgb = np.zeros((40 + i % 3 * 8, 48, 3), np.uint8)
        rgb[..., 0], rgb[..., 1] = 8 * i, 128
        path = os.path.join(str(root), "day%d" % (i % 3), "IMG_%02d.%s" % (i, "png" if i % 2 else "jpg"))
        _save(path, rgb)
        colours[path] = 8 * i
    _save(os.path.join(str(root), "tiny1.png"), np.zeros((20, 48, 3), np.uint8))
    _save(os.path.join(str(root), "day1", "tiny2.jpg"), np.zeros((48, 30, 3), np.uint8))
    with open(os.path.join(str(root), "broken.jpg"), "wb") as f:
        f.write(b"not a jpeg")
    with open(os.path.join(str(root), "notes.txt"), "w") as f:
        f.write("not a photo")
    return colours


def test_a_photo_folder_is_split_by_photo_one_photo_decoded_at_a_time(tmp_path, monkeypatch):
    colours = photo_folder(tmp_path / "photos")
    decoded, live_at_decode = [], []
    real_read = photo_source.read_photo

    def counting_read(path):
        gc.collect()
        live_at_decode.append(sum(ref() is not None for ref in decoded))
        photo = real_read(path)
        decoded.append(weakref.ref(photo))
        return photo
    monkeypatch.setattr(photo_source, "read_photo", counting_read)
    lines = []
    out = mdd.make_dataset(str(tmp_path / "data"), train_count=60, val_count=6, test_count=2, patch_size=32,
                           test_h=32, test_w=32, seed=1, progress=False, photos_dir=str(tmp_path / "photos"),
                           log=lines.append, **mdd.NO_EFFECTS)
    assert len(decoded) == PHOTOS and max(live_at_decode) <= 1, live_at_decode  # never two photos held at once
    assert "photos_dir %s: 25 train, 3 val and 2 test photos" % (tmp_path / "photos") in lines, lines
    skipped = [line for line in lines if "skipped" in line]
    assert len(skipped) == 2, lines
    assert "skipped 2 photos smaller than a patch (32 px)" in skipped[0] and "tiny1.png" in skipped[0] and "tiny2.jpg" in skipped[0]
    assert "broken.jpg" in skipped[1]

    def photos_of(split, sub):  # which photos a split's targets came from (by their red level)
        found = set()
        for name in os.listdir(os.path.join(out, split, sub)):
            red = np.asarray(Image.open(os.path.join(out, split, sub, name)))[..., 0].mean()
            found.add(min(colours.values(), key=lambda c: abs(c - red)))
        return found
    train, val, test = photos_of("train", "fujifilm"), photos_of("val", "fujifilm"), photos_of("test", "fujifilm")
    assert len(train) == 25 and len(val) == 3 and len(test) == 2
    assert not train & val and not (train | val) & test
    # too few photos for the split: one line
    with pytest.raises(UsageError, match="holds 30 usable photos.*needs at least 32"):
        mdd.make_dataset(str(tmp_path / "d2"), test_count=30, patch_size=32, photos_dir=str(tmp_path / "photos"),
                         progress=False, log=lines.append)


def test_photo_folder_from_the_command_line(tmp_path):
    photo_folder(tmp_path / "photos")
    out = str(tmp_path / "data")
    proc = run_script("make_demo_data.py", "out=" + out, "photos_dir=" + str(tmp_path / "photos"), "train_count=4",
                      "val_count=2", "test_count=1", "patch_size=32", "test_h=32", "test_w=48")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "26 train, 3 val and 1 test photos" in proc.stdout and "training crops from" not in proc.stdout
    assert len(os.listdir(os.path.join(out, "train", "mediatek_raw"))) == 4
    assert_usage_error(run_script("make_demo_data.py", "out=" + str(tmp_path / "d2"),
                                  "photos_dir=" + str(tmp_path / "nowhere")), "is not a folder")


def test_the_demo_phones_sample_dngs_profile_reproduces_the_demo_phone(tmp_path):
    """The sample DNGs (dng=True) are the demo phone's: the profile read from one unprocesses a colour
    as the demo's inverse ISP does at another sample's light (so they can stand in for a phone)."""
    out = mdd.make_dataset(str(tmp_path / "d"), train_count=1, val_count=1, test_count=2, patch_size=32, test_h=64,
                           test_w=96, seed=0, progress=False, log=lambda line: None)
    p = camera_profile.read_profile(os.path.join(out, "test", "dng", "1.dng"))
    assert p.cfa == unprocess.DemoCamera.cfa and [c for c, _ in p.matrices] == [21, 17] and p.noise is not None
    tungsten = 1.0 / np.array([unprocess.TUNGSTEN_GAINS[0], 1.0, unprocess.TUNGSTEN_GAINS[1]])
    np.testing.assert_allclose(p.locus_neutral(2856) / p.locus_neutral(2856)[1], tungsten, rtol=0.02)
    other = camera_profile.read_profile(os.path.join(out, "test", "dng", "2.dng")).neutral  # another scene's light
    colours = np.array([[0.8, 0.05, 0.05], [0.1, 0.6, 0.2], [0.1, 0.2, 0.7], [0.5, 0.5, 0.5]])
    profile_cam = colours @ (np.diag(other) @ p.camera_from_srgb(other, p.kelvin_of(other))).T
    demo_cam = colours @ np.linalg.inv(unprocess.CCM).T * other
    np.testing.assert_allclose(profile_cam / profile_cam.max(), demo_cam / demo_cam.max(), atol=0.03)
