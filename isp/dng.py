"""Writing DNG files: a Bayer mosaic with the tags LibRaw needs to read it as a phone's RAW (DNG
version, colour filter pattern and layout, black level per 2x2 position, white level, a colour
matrix) and the colour tags of a phone's profile (a second colour matrix, the calibration
illuminants, forward matrices, AsShotNeutral, NoiseProfile). Used by make_demo_data.py (its test
scenes as sample DNGs) and the tests (DNGs of every kind that dng2png.py and profile= read or
refuse). Reading is load_dataset.read_dng's (rawpy/LibRaw) and isp/camera_profile.py's (colour tags).
"""
import numpy as np
import tifffile

from isp.camera_profile import D65_XYZ, SRGB_FROM_XYZ, bradford

COLOR = {"R": 0, "G": 1, "B": 2, "C": 3, "M": 4, "Y": 5}  # the DNG codes of the CFA colours
CFA_PHOTOMETRIC = 32803  # TIFF/EP's PhotometricInterpretation of a colour filter array


def _rationals(values, denominator=1000000):
    """Signed rationals as the flat (numerator, denominator, ...) pairs a TIFF SRATIONAL tag holds."""
    out = []
    for v in values:
        out += [int(round(float(v) * denominator)), denominator]
    return tuple(out)


def color_matrix(srgb_from_camera, neutral=(1.0, 1.0, 1.0), white=D65_XYZ):
    """DNG's ColorMatrix (XYZ -> camera) for the illuminant of XYZ `white`, of a camera whose linear
    sRGB is srgb_from_camera @ diag(1 / neutral) @ camera when white balanced for that illuminant
    (`neutral`: the camera's RGB for its white; colours seen under it Bradford-adapted to D65),
    scaled so that the illuminant's white gives 1 in the camera's strongest channel."""
    camera_from_xyz = (np.diag(neutral) @ np.linalg.inv(np.asarray(srgb_from_camera, np.float64)) @ SRGB_FROM_XYZ
                       @ bradford(white, D65_XYZ))
    return camera_from_xyz / (camera_from_xyz @ np.asarray(white)).max()


def write_dng(path, mosaic, cfa="RGGB", black=(64, 64, 64, 64), white=4095, matrix=None, neutral=None,
              photometric=CFA_PHOTOMETRIC, repeat=(2, 2), planes="RGB", model="Test Phone", matrix2=None,
              illuminants=(21, 17), forward=None, noise_profile=None):
    """A DNG holding `mosaic` (uint16 [H, W], or [H, W, 3] for a linear DNG with photometric=34892)
    as the sensor recorded it: `cfa` the colour filter pattern of `repeat` (rows, columns) read
    row by row ("GRBG": G R on the first row, B G on the second), black levels per 2x2 position
    (top-left, top-right, bottom-left, bottom-right), the white level, `matrix` the 3x3 XYZ ->
    camera colour matrix (None: the identity; see color_matrix), `neutral` the camera's (R, G, B)
    for white in the scene's light, i.e. 1 / the white-balance gains (None: not given). The profile
    tags: `matrix2` ColorMatrix2, `illuminants` the two CalibrationIlluminant codes (21 D65, 17 A),
    `forward` [ForwardMatrix1] or [ForwardMatrix1, ForwardMatrix2], `noise_profile` the (S, O)
    pairs of NoiseProfile (one for all planes, or one per plane); None leaves a tag out, and
    matrix=False leaves ColorMatrix1 out too. Returns path."""
    matrix = np.eye(3) if matrix is None else matrix
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),              # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),              # DNGBackwardVersion
        (50708, "s", 0, model, True),                     # UniqueCameraModel
        (33421, "H", 2, tuple(repeat), True),             # CFARepeatPatternDim
        (33422, "B", len(cfa), tuple(COLOR[c] for c in cfa), True),  # CFAPattern
        (50710, "B", len(planes), tuple(COLOR[c] for c in planes), True),  # CFAPlaneColor
        (50711, "H", 1, 1, True),                         # CFALayout: rectangular
        (50713, "H", 2, (2, 2), True),                    # BlackLevelRepeatDim
        (50714, "H", 4, tuple(int(b) for b in black), True),  # BlackLevel
        (50717, "H", 1, int(white), True),                # WhiteLevel
    ]
    if matrix is not False:
        tags += [(50721, "2i", 9, _rationals(np.ravel(matrix)), True),   # ColorMatrix1
                 (50778, "H", 1, int(illuminants[0]), True)]             # CalibrationIlluminant1
    if matrix2 is not None:
        tags += [(50722, "2i", 9, _rationals(np.ravel(matrix2)), True),  # ColorMatrix2
                 (50779, "H", 1, int(illuminants[1]), True)]             # CalibrationIlluminant2
    for code, m in zip((50964, 50965), forward or ()):
        tags.append((code, "2i", 9, _rationals(np.ravel(m)), True))     # ForwardMatrix1/2
    if neutral is not None:
        tags.append((50728, "2I", 3, _rationals(neutral), True))  # AsShotNeutral
    if noise_profile is not None:
        flat = tuple(float(v) for pair in noise_profile for v in pair)
        tags.append((51041, "d", len(flat), flat, True))          # NoiseProfile: (S, O) per plane
    tifffile.imwrite(path, mosaic, photometric=photometric, extratags=tags, subfiletype=0)
    return path


def sensor_mosaic(rggb, cfa, black, white, raw_max=1023):
    """The mosaic a sensor with the 2x2 layout `cfa` records of the scene that the RGGB-aligned
    mosaic `rggb` (uint [H, W], 0..raw_max) shows, at the same size: the scene sits one row and/or
    column further in where R is not top-left (the first row/column then repeats the same colours
    two sites in, and the scene's last row/column falls off), each site at its 2x2 position's
    black level plus the value scaled so that raw_max reaches `white`. load_dataset.read_dng
    gives `rggb` back without its last row and/or column (its alignment crop keeps even sizes)."""
    dy, dx = divmod(cfa.index("R"), 2)
    h, w = rggb.shape
    shifted = np.pad(rggb.astype(np.float64), ((dy, 0), (dx, 0)), mode="reflect")[:h, :w]
    ys, xs = np.mgrid[0:h, 0:w]
    blacks = np.asarray(black, np.float64).reshape(2, 2)[ys % 2, xs % 2]
    return np.round(blacks + shifted * (white - blacks) / raw_max).astype(np.uint16)
