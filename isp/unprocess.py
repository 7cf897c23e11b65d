"""The inverse ISP of make_demo_data.py: a good 8-bit sRGB photo -> the 10-bit RGGB-aligned mosaic a
phone's sensor would have recorded of it (the convention of dng2png.py's output: black removed,
white at 1023), after the idea of Brooks et al., "Unprocessing images for learned raw denoising"
(CVPR 2019): undo the gamma, go to the camera's colour space, undo the white balance of the scene's
light, expose, mosaic, add shot and read noise, quantise.

Two cameras: DemoCamera, the made-up phone of the demo data (one colour matrix, white balance as
gains along a daylight-locus path, noise drawn per scene), and ProfileCamera, a real phone's
(camera_profile.Profile from one of its DNGs: its colour matrices at each scene's light, lights
drawn around its AsShotNeutral, the shot and read noise of its NoiseProfile, its black and white
levels). Both write their scenes as that phone's DNGs too (dng_tags).
"""
import numpy as np
from scipy import ndimage

from isp import dng as dng_files
from isp.camera_profile import A_XYZ, D65_XYZ

# sRGB (linear) <- camera RGB; rows sum to 1 so grey stays grey. A typical smartphone matrix.
CCM = np.array([[1.70, -0.55, -0.15],
                [-0.25, 1.55, -0.30],
                [0.05, -0.60, 1.55]], np.float32)
WB_GAINS = (2.0, 1.0, 1.7)  # R, G, B gains the camera's ISP applies in daylight (~5500 K)
# The white-balance gains (R, B) of a typical phone sensor at the two ends of the illuminants the
# wb key spans, daylight being WB_GAINS: tungsten (~2850 K) needs little red gain and much blue
# gain, shade (~7500 K) the opposite. Gains in between lie on the log-linear path through them, so
# R and B move together, as along the daylight / Planckian locus; a small off-locus tint is added.
TUNGSTEN_GAINS = (1.30, 2.90)
SHADE_GAINS = (2.40, 1.40)
LOCUS_ENDS_K = (2850.0, 7500.0)  # the same two ends as colour temperatures (a profile's locus)
TINT_SIGMA = 0.02
WHITE_LEVEL = 1023
SHOT_RANGE, READ_RANGE = (0.2, 0.6), (0.5, 2.0)  # demo noise per scene: variance per DN of signal; read sigma, DN
SITE_COLOUR = np.array([[0, 1], [1, 2]])  # R, G, B index of each site of an RGGB 2x2 cell


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def wb_gains(u, tint=(0.0, 0.0)):
    """(R, G, B) gains at position u on the locus: -1 tungsten, 0 daylight, +1 shade."""
    end = TUNGSTEN_GAINS if u < 0 else SHADE_GAINS
    t = abs(u)
    r = WB_GAINS[0] ** (1 - t) * end[0] ** t * np.exp(tint[0])
    b = WB_GAINS[2] ** (1 - t) * end[1] ** t * np.exp(tint[1])
    return (float(r), 1.0, float(b))


def draw_scene(fx_rng, strengths):
    """One scene's effects: light, exposure, ISO, misalignment. Every value is drawn whatever
    the strengths, so that changing one strength leaves the others' draws unchanged."""
    u, t_r, t_b, ev, iso, dy, dx = (fx_rng.uniform(-1, 1), fx_rng.standard_normal(),
                                    fx_rng.standard_normal(), fx_rng.uniform(0, 1),
                                    fx_rng.uniform(0, 1), fx_rng.uniform(-1, 1), fx_rng.uniform(-1, 1))
    wb = min(strengths["wb"], 1.0)
    tint = (TINT_SIGMA * strengths["wb"] * t_r, TINT_SIGMA * strengths["wb"] * t_b)
    return {"gains": wb_gains(u * wb, tint) if strengths["wb"] else WB_GAINS,
            "light": (u, wb, tint),  # for a ProfileCamera: position on the locus, spread, tint
            "exposure": 2.0 ** (-ev * strengths["exposure_stops"]),
            "iso": 2.0 ** (iso * strengths["iso_stops"]),
            "shift": (dy * strengths["shift"], dx * strengths["shift"])}


def locus_kelvin(u, spread, base_kelvin):
    """A scene's light on a profile's locus: u (-1..1) places it from tungsten to shade
    (LOCUS_ENDS_K), uniformly in mired (1/T); `spread` (0..1) pulls it towards the shot's own
    light `base_kelvin` (0: that light), so one DNG's light does not narrow the range drawn."""
    ends = [1e6 / k for k in LOCUS_ENDS_K]
    mired = ends[0] + (u + 1) / 2 * (ends[1] - ends[0])
    base = 1e6 / base_kelvin
    return 1e6 / (base + spread * (mired - base))


class DemoCamera:
    """The demo data's made-up phone; its sample DNGs are a GRBG 12-bit sensor's with a black level,
    ColorMatrix1/2 (D65, A) consistent with its gains at daylight and tungsten, and the noise added."""
    cfa, black, white = "GRBG", (256, 256, 256, 256), 4095
    notes = ()

    def colour(self, scene):
        """(M, gains): camera RGB = (M @ linear sRGB) / gains."""
        return np.linalg.inv(CCM), (WB_GAINS if scene is None else scene["gains"])

    def noise(self, shot, read):
        return shot, read

    def quantise(self, noisy):
        return np.clip(np.round(noisy), 0, WHITE_LEVEL).astype(np.uint16)

    def dng_colour(self, gains):
        neutral = 1.0 / np.asarray(gains, np.float64)
        tungsten = 1.0 / np.array([TUNGSTEN_GAINS[0], 1.0, TUNGSTEN_GAINS[1]])
        return {"matrix": dng_files.color_matrix(CCM, 1.0 / np.asarray(WB_GAINS), D65_XYZ),
                "matrix2": dng_files.color_matrix(CCM, tungsten, A_XYZ), "illuminants": (21, 17),
                "neutral": neutral / neutral.max()}


class ProfileCamera:
    """A real phone's sensor, from its camera_profile.Profile."""

    def __init__(self, profile):
        self.profile = profile
        self.cfa, self.black, self.white = profile.cfa, profile.black, profile.white
        dy, dx = divmod(profile.cfa.index("R"), 2)
        black = np.reshape(profile.black, (2, 2))
        self.aligned_black = black[np.ix_([dy, 1 - dy], [dx, 1 - dx])]  # per site of the RGGB-aligned cell
        self.notes = list(profile.notes)
        if profile.noise is None:
            self.notes.append("no NoiseProfile: the demo noise model is used (per scene, shot-noise variance "
                              "%g-%g x the signal and read-noise sigma %g-%g DN, at 10 bits)" % (SHOT_RANGE + READ_RANGE))

    def colour(self, scene):
        p = self.profile
        if scene is None:
            kelvin, neutral = p.shot_kelvin, p.neutral
        else:
            u, spread, tint = scene["light"]
            kelvin = locus_kelvin(u, spread, p.shot_kelvin)
            neutral = p.scene_neutral(kelvin, (-tint[0], -tint[1]))
        return p.camera_from_srgb(neutral, kelvin).astype(np.float32), tuple(1.0 / neutral)

    def noise(self, shot, read):
        """NoiseProfile's variance S x + O of the signal x (0..1 of white - black) in 10-bit DN,
        per colour; without one, the demo's draws."""
        if self.profile.noise is None:
            return shot, read
        s, o = np.asarray(self.profile.noise, np.float64).T
        return s * WHITE_LEVEL, np.sqrt(o) * WHITE_LEVEL

    def quantise(self, noisy):
        """As the sensor would (its black and white levels), then as dng2png.py converts."""
        h, w = noisy.shape
        black = np.tile(self.aligned_black, (h // 2, w // 2))
        span = self.white - black
        sensor = np.clip(np.round(black + noisy * span / WHITE_LEVEL), 0, self.white)
        return np.clip(np.round((sensor - black) * (WHITE_LEVEL / span)), 0, WHITE_LEVEL).astype(np.uint16)

    def dng_colour(self, gains):
        p = self.profile
        neutral = 1.0 / np.asarray(gains, np.float64)
        tags = {"matrix": p.matrices[0][1], "illuminants": tuple(c for c, _ in p.matrices) + (0,) * (2 - len(p.matrices)),
                "forward": p.forward, "neutral": neutral / neutral.max()}
        if len(p.matrices) == 2:
            tags["matrix2"] = p.matrices[1][1]
        return tags


def inverse_isp(rgb_u8, rng, scene=None, blur=0.0, camera=None, record=None):
    """8-bit sRGB [H, W, 3] (H, W even) -> 10-bit RGGB mosaic as uint16 [H, W].

    `scene` (from draw_scene) sets the light, exposure, ISO and shift; None is the plain inverse
    ISP (daylight gains; a profile's AsShotNeutral). `blur` is the lens blur sigma in pixels.
    `camera`: DemoCamera (None) or a ProfileCamera. A dict `record` gets the scene's white-balance
    "gains" and the "noise" added as NoiseProfile (S, O) pairs for R, G, B."""
    camera = camera or DemoCamera()
    lin = srgb_to_linear(rgb_u8.astype(np.float32) / 255.0)
    if scene is not None and any(scene["shift"]):
        lin = ndimage.shift(lin, tuple(scene["shift"]) + (0,), order=1, mode="reflect")
    if blur:
        lin = ndimage.gaussian_filter(lin, sigma=(blur, blur, 0), mode="reflect")
    matrix, gains = camera.colour(scene)
    cam = lin @ matrix.T
    cam = np.clip(cam, 0.0, None) / np.asarray(gains, np.float32)
    exposure = rng.uniform(0.8, 1.0)
    if scene is not None:
        exposure *= scene["exposure"]
    cam *= exposure * WHITE_LEVEL
    h, w = cam.shape[:2]
    mosaic = np.empty((h, w), np.float32)
    mosaic[0::2, 0::2] = cam[0::2, 0::2, 0]  # R
    mosaic[0::2, 1::2] = cam[0::2, 1::2, 1]  # G (R row)
    mosaic[1::2, 0::2] = cam[1::2, 0::2, 1]  # G (B row)
    mosaic[1::2, 1::2] = cam[1::2, 1::2, 2]  # B
    shot = rng.uniform(*SHOT_RANGE)   # variance per unit of signal, in DN
    read = rng.uniform(*READ_RANGE)   # read-noise sigma, in DN
    shot, read = camera.noise(shot, read)
    if scene is not None:
        shot, read = shot * scene["iso"], read * scene["iso"]
    if record is not None:
        record["gains"] = tuple(float(g) for g in gains)
        record["noise"] = [(float(s) / WHITE_LEVEL, (float(r) / WHITE_LEVEL) ** 2)
                           for s, r in zip(np.broadcast_to(shot, 3), np.broadcast_to(read, 3))]
    if np.ndim(shot):  # per colour: a value per site
        shot, read = (np.tile(np.asarray(v)[SITE_COLOUR], (h // 2, w // 2)) for v in (shot, read))
    noisy = mosaic + rng.standard_normal(mosaic.shape).astype(np.float32) * np.sqrt(shot * mosaic + read ** 2)
    return camera.quantise(noisy)


def write_scene_dng(path, raw, camera, record, model):
    """The RGGB-aligned 10-bit `raw` as `camera`'s sensor records it, with its colour tags, the
    scene's light as AsShotNeutral and the noise added as NoiseProfile (see inverse_isp's record)."""
    mosaic = dng_files.sensor_mosaic(raw, camera.cfa, camera.black, camera.white, WHITE_LEVEL)
    return dng_files.write_dng(path, mosaic, camera.cfa, camera.black, camera.white, model=model,
                               noise_profile=record["noise"], **camera.dng_colour(record["gains"]))
