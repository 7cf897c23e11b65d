"""A phone's colour profile, read from one of its DNGs, and the DNG colour model unprocessing needs.

The sensor layout (CFA pattern, black level per 2x2 position, white level) is LibRaw's reading,
load_dataset.dng_sensor, the same that dng2png.py converts with. The tags LibRaw does not give are
read here, once, with tifffile, from IFD0 or else the raw IFD (NewSubFileType 0): ColorMatrix1/2
with CalibrationIlluminant1/2, ForwardMatrix1/2, AsShotNeutral and NoiseProfile (BlackLevel and
WhiteLevel only for whether they are there, to name the default LibRaw took: their values are LibRaw's).

The model is the DNG specification's ("Mapping Camera Color Space to CIE XYZ Space"): the matrices
of the two calibration illuminants are interpolated linearly in inverse colour temperature at the
scene's light; camera -> XYZ (D50) is ForwardMatrix * inverse(diag(neutral)) where a ForwardMatrix
is given, else the inverse of the colour matrix followed by a Bradford adaptation of the neutral's
white to D50. Lights are placed on the Planckian locus (Kim et al. 2002's fit of its xy).
"""
import numpy as np
import tifffile

from isp.errors import UsageError
from isp.load_dataset import dng_sensor

# linear sRGB (D65) <- CIE XYZ, and the white points (Y = 1)
SRGB_FROM_XYZ = np.array([[3.2406, -1.5372, -0.4986],
                          [-0.9689, 1.8758, 0.0415],
                          [0.0557, -0.2040, 1.0570]])
D65_XYZ = np.array([0.95047, 1.0, 1.08883])
D50_XYZ = np.array([0.96422, 1.0, 0.82521])
A_XYZ = np.array([1.09850, 1.0, 0.35585])
BRADFORD = np.array([[0.8951, 0.2664, -0.1614],
                     [-0.7502, 1.7135, 0.0367],
                     [0.0389, -0.0685, 1.0296]])
# the DNG (EXIF LightSource) codes of the calibration illuminants -> their colour temperature in K
ILLUMINANT_K = {1: 5500, 2: 4150, 3: 2850, 4: 5500, 9: 5500, 10: 6500, 11: 7500, 12: 6430, 13: 5000,
                14: 4150, 15: 3450, 16: 2940, 17: 2856, 18: 4874, 19: 6774, 20: 5503, 21: 6504,
                22: 7504, 23: 5003, 24: 3200}
ILLUMINANT_NAME = {17: "A", 21: "D65", 23: "D50", 20: "D55", 22: "D75", 3: "tungsten", 1: "daylight"}
TAGS = {"ColorMatrix1": 50721, "ColorMatrix2": 50722, "CalibrationIlluminant1": 50778,
        "CalibrationIlluminant2": 50779, "ForwardMatrix1": 50964, "ForwardMatrix2": 50965,
        "AsShotNeutral": 50728, "NoiseProfile": 51041, "BlackLevel": 50714, "WhiteLevel": 50717}
RATIONAL_TYPES = (5, 10)  # TIFF RATIONAL, SRATIONAL: stored as (numerator, denominator) pairs
LOCUS_K = np.arange(1700.0, 25000.0, 10.0)  # the lights AsShotNeutral's colour temperature is sought among


def bradford(src, dst):
    """The 3x3 matrix adapting XYZ colours seen under white `src` to white `dst` (Bradford)."""
    gain = (BRADFORD @ np.asarray(dst, np.float64)) / (BRADFORD @ np.asarray(src, np.float64))
    return np.linalg.inv(BRADFORD) @ np.diag(gain) @ BRADFORD


def planckian_xyz(kelvin):
    """XYZ (Y = 1) of a black body at `kelvin` (1667..25000 K)."""
    t = float(np.clip(kelvin, 1667.0, 25000.0))
    if t <= 4000:
        x = -0.2661239e9 / t ** 3 - 0.2343589e6 / t ** 2 + 0.8776956e3 / t + 0.179910
    else:
        x = -3.0258469e9 / t ** 3 + 2.1070379e6 / t ** 2 + 0.2226347e3 / t + 0.240390
    if t <= 2222:
        y = -1.1063814 * x ** 3 - 1.34811020 * x ** 2 + 2.18555832 * x - 0.20219683
    elif t <= 4000:
        y = -0.9549476 * x ** 3 - 1.37418593 * x ** 2 + 2.09137015 * x - 0.16748867
    else:
        y = 3.0817580 * x ** 3 - 5.87338670 * x ** 2 + 3.75112997 * x - 0.37001483
    return np.array([x / y, 1.0, (1 - x - y) / y])


def _values(tag):
    """A tag's numbers as floats (rationals divided out)."""
    value = tag.value if isinstance(tag.value, (tuple, list)) else (tag.value,)
    if int(tag.dtype) in RATIONAL_TYPES:
        return [n / d if d else 0.0 for n, d in zip(value[0::2], value[1::2])]
    return [float(v) for v in value]


def read_tags(path):
    """{tag name: its numbers} of the TAGS present in IFD0 or the raw IFD (IFD0 first)."""
    try:
        with tifffile.TiffFile(path) as tif:
            pages = [tif.pages[0]] + [p for p in (tif.pages[0].pages or []) if p.tags.get(254) is not None
                                      and p.tags[254].value == 0]
            found = {}
            for name, code in TAGS.items():
                tag = next((p.tags[code] for p in pages if p.tags.get(code) is not None), None)
                if tag is not None:
                    found[name] = _values(tag)
            return found
    except (OSError, ValueError, IndexError, KeyError, TypeError) as err:
        raise UsageError("cannot read the tags of %r as a DNG: %s" % (path, err))


class Profile:
    """A sensor's profile: cfa, black (per 2x2 position), white, bits, matrices ([(illuminant code,
    ColorMatrix)], 1 or 2), forward ([ForwardMatrix] per matrix, or None), neutral (AsShotNeutral,
    max 1), noise ((S, O) for R, G, B in the DNG's units, or None), notes (each default used)."""

    def __init__(self, path, cfa, black, white, matrices, forward=None, neutral=None, noise=None, notes=()):
        self.path, self.cfa, self.black, self.white = path, cfa, tuple(black), float(white)
        self.bits = int(np.ceil(np.log2(self.white + 1)))
        self.matrices = [(int(code), np.asarray(m, np.float64).reshape(3, 3)) for code, m in matrices]
        self.forward = None if forward is None else [np.asarray(m, np.float64).reshape(3, 3) for m in forward]
        self.noise = noise
        self.notes = list(notes)
        if neutral is None:
            neutral = self.locus_neutral(ILLUMINANT_K[21])
            self.notes.append("no AsShotNeutral: the profile's D65 neutral (%s) is the shot's light" % _ratios(neutral))
        self.neutral = np.asarray(neutral, np.float64) / np.max(neutral)
        self.shot_kelvin = self.kelvin_of(self.neutral)

    def _interpolated(self, matrices, kelvin):
        """Matrices interpolated linearly in 1/T between their illuminants (one matrix: itself)."""
        if len(matrices) == 1:
            return matrices[0]
        (k1, k2) = (ILLUMINANT_K[code] for code, _ in self.matrices)
        g = float(np.clip((1.0 / kelvin - 1.0 / k2) / (1.0 / k1 - 1.0 / k2), 0.0, 1.0))
        return g * matrices[0] + (1 - g) * matrices[1]

    def color_matrix(self, kelvin):
        return self._interpolated([m for _, m in self.matrices], kelvin)

    def locus_neutral(self, kelvin):
        """The camera's (R, G, B) for white lit by a black body at `kelvin`, max 1."""
        n = self.color_matrix(kelvin) @ planckian_xyz(kelvin)
        return n / n.max()

    def kelvin_of(self, neutral):
        """The colour temperature whose locus neutral is closest to `neutral` (in log R/G, B/G)."""
        want = np.log(np.asarray(neutral)[[0, 2]] / neutral[1])
        logs = np.array([np.log(n[[0, 2]] / n[1]) for n in (self.locus_neutral(k) for k in LOCUS_K)])
        return float(LOCUS_K[np.argmin(((logs - want) ** 2).sum(axis=1))])

    def scene_neutral(self, kelvin, tint=(0.0, 0.0)):
        """The neutral of a light at `kelvin`, off the locus as much as AsShotNeutral is (so that
        the shot's own temperature gives AsShotNeutral), times exp(tint) on R and B; max 1."""
        n = self.locus_neutral(kelvin) * self.neutral / self.locus_neutral(self.shot_kelvin)
        n = n * np.exp([tint[0], 0.0, tint[1]])
        return n / n.max()

    def camera_from_srgb(self, neutral, kelvin):
        """M with camera RGB = diag(neutral) @ M @ linear sRGB for a scene lit by `neutral`'s light
        (at `kelvin`): white gives `neutral`, i.e. M maps white to (1, 1, 1)."""
        neutral = np.asarray(neutral, np.float64)
        if self.forward is not None:
            xyz_from_camera = self._interpolated(self.forward, kelvin) @ np.diag(1.0 / neutral)
        else:
            cam_to_xyz = np.linalg.inv(self.color_matrix(kelvin))
            cam_to_xyz = cam_to_xyz / (cam_to_xyz @ neutral)[1]
            xyz_from_camera = bradford(cam_to_xyz @ neutral, D50_XYZ) @ cam_to_xyz
        camera = np.linalg.inv(xyz_from_camera) @ bradford(D65_XYZ, D50_XYZ) @ np.linalg.inv(SRGB_FROM_XYZ)
        return np.diag(1.0 / neutral) @ camera

    def describe(self):
        mats = "%d colour matri%s (%s)%s" % (
            len(self.matrices), "x" if len(self.matrices) == 1 else "ces",
            ", ".join(ILLUMINANT_NAME.get(c, "illuminant %d" % c) for c, _ in self.matrices),
            ", interpolated at each scene's light" if len(self.matrices) == 2 else ", used for every light")
        return "%s: %s, black %s, white %g (%d-bit); %s; ForwardMatrix %s; AsShotNeutral %s (~%d K); NoiseProfile %s" % (
            self.path, self.cfa, "/".join("%g" % b for b in self.black), self.white, self.bits, mats,
            "yes" if self.forward else "no", _ratios(self.neutral), self.shot_kelvin, "yes" if self.noise else "no")


def _ratios(values):
    return "/".join("%.3g" % v for v in values)


def read_profile(path):
    """The Profile of a phone's DNG. UsageError (one line) for a file that cannot be read, a sensor
    that is not an RGB Bayer one, or no usable colour matrix; a default for every other missing tag,
    named in the profile's notes."""
    sensor = dng_sensor(path)  # refuses unreadable files and non-Bayer sensors
    tags = read_tags(path)
    notes = []
    if "ColorMatrix1" not in tags:
        raise UsageError("%r has no ColorMatrix1, the sensor's colour response this needs; give a DNG the phone's "
                         "own camera app saved" % path)
    for name in ("BlackLevel", "WhiteLevel"):
        if name not in tags:
            notes.append("no %s: %s, the DNG default" % (
                name, "0" if name == "BlackLevel" else "white %g (2^BitsPerSample - 1)" % sensor["white"]))
    codes = [int(tags.get("CalibrationIlluminant%d" % i, [0])[0]) for i in (1, 2)]
    matrices = [(codes[0], tags["ColorMatrix1"])]
    if "ColorMatrix2" in tags:
        if all(c in ILLUMINANT_K for c in codes) and ILLUMINANT_K[codes[0]] != ILLUMINANT_K[codes[1]]:
            matrices.append((codes[1], tags["ColorMatrix2"]))
        else:
            notes.append("CalibrationIlluminant1/2 missing or unknown (%d, %d): ColorMatrix1 alone is used" % tuple(codes))
    for name in ("ColorMatrix1", "ColorMatrix2", "ForwardMatrix1", "ForwardMatrix2"):
        if name in tags and len(tags[name]) != 9:
            raise UsageError("%r has a %s of %d values, not 3x3 (a 3-colour sensor's)" % (path, name, len(tags[name])))
    forward = None
    if "ForwardMatrix1" in tags and ("ForwardMatrix2" in tags or len(matrices) == 1):
        forward = [tags["ForwardMatrix1"]] + ([tags["ForwardMatrix2"]] if len(matrices) == 2 else [])
    else:
        notes.append("no ForwardMatrix: camera -> XYZ from the inverse colour matrix and a Bradford adaptation "
                     "(the DNG spec's way without one)")
    for _, m in matrices:
        if abs(np.linalg.det(np.reshape(m, (3, 3)))) < 1e-9:
            raise UsageError("%r has a singular colour matrix; it cannot be inverted" % path)
    neutral = tags.get("AsShotNeutral")
    if neutral is not None and (len(neutral) != 3 or min(neutral) <= 0):
        notes.append("AsShotNeutral %s unusable (not 3 positive values): ignored" % neutral)
        neutral = None
    noise = None
    raw_noise = tags.get("NoiseProfile")
    if raw_noise and len(raw_noise) in (2, 6) and min(raw_noise) >= 0:
        pairs = [tuple(raw_noise[i:i + 2]) for i in range(0, len(raw_noise), 2)]
        noise = pairs * 3 if len(pairs) == 1 else pairs
    elif raw_noise:
        notes.append("NoiseProfile %s unusable: ignored" % raw_noise)
    profile = Profile(path, sensor["cfa"], sensor["black"], sensor["white"], matrices, forward, neutral, noise, notes)
    return profile
