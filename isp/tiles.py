"""A photo rendered through a fixed-size network in overlapping tiles, blended without seams.

Every tile starts at a multiple of the network's stride (`align` plane pixels: 2 for arch=model,
whose head convolution has stride 2; 16 for PUNET, whose sizes are multiples of 32 output pixels),
so that it samples the photo on the whole photo's grid.

The tiles of one axis are evenly spaced, the first at the photo's start and the last at its end, so
that every pair of neighbours shares at least `overlap` plane pixels. Near an inner edge of a tile
(one that is not the photo's edge), where its zero padding differs from the photo's real
neighbours, the tile gets no weight for a quarter of the overlap, then a weight rising linearly over
half the overlap; the weights of each axis are normalised to sum to one at every position, and a
tile's weight is the product of its two axes' (so the 2-D weights sum to one too, without an array
the photo's size). A tile at the photo's border has the whole photo's padding there: nothing to
blend.

Memory: the photo's planes and output, one tile's input and output, the weight vectors, and (for the
seam check, Agreement) one row of tile outputs; not the network's activations of the whole photo.
"""
from collections import namedtuple

import numpy as np

# overlap of neighbouring tiles in plane pixels (half the output's): arch=model's receptive field is
# 13 plane pixels wide, so a quarter of this (16) holds it with room; PUNET's is far wider (its tiles'
# agreement with the whole-photo render was not measured)
DEFAULT_OVERLAP = 64

def align_of(arch):
    """The tiles' alignment in plane pixels (see above): the arch's stride."""
    return 16 if arch == "punet" else 2


Tiling = namedtuple("Tiling", "rows cols tile_h tile_w overlap")


def tile_starts(size, tile, overlap, align=2):
    """Start offsets of the tiles covering `size` pixels with tiles of `tile`, neighbours sharing at
    least `overlap`, every start a multiple of `align` (the network's stride in plane pixels: a tile
    must sample the photo on the whole photo's grid). The last tile ends at the photo's end, or
    past it where size - tile is not a multiple of align (render pads the photo)."""
    if size <= tile:
        return [0]
    last = -(-(size - tile) // align) * align
    # the spacing at most tile - overlap, less the alignment's rounding of each start
    n = -(-last // max(tile - overlap - align, 1)) + 1
    return [int(round(i * last / float(n - 1) / align)) * align for i in range(n)]


def axis_weights(starts, tile, size, overlap):
    """Per tile, its weight along the axis ([tile] float32 each), the weights of every position
    summing to one: near an inner edge (one that is not the photo's) a tile's weight is nil for
    overlap/4 pixels, then rises linearly over overlap/2 to one; the sums are normalised (so
    spacing closer than the overlap, where three tiles meet, blends as well)."""
    margin, ramp = overlap / 4.0, max(overlap / 2.0, 1.0)
    raw = []
    for i, s in enumerate(starts):
        pos = np.arange(s, s + tile, dtype=np.float64) + 0.5
        d = np.full(tile, np.inf)
        if i > 0:
            d = np.minimum(d, pos - s)
        if i + 1 < len(starts):
            d = np.minimum(d, s + tile - pos)
        # a tiny floor: every position keeps a positive sum, even one only a tile's margin covers
        raw.append(np.clip((d - margin) / ramp, 1e-6, 1.0))
    total = np.zeros(size)
    for s, w in zip(starts, raw):
        total[s:s + tile] += w
    return [(w / total[s:s + tile]).astype(np.float32) for s, w in zip(starts, raw)]


def plan(h, w, tile_h, tile_w, overlap=DEFAULT_OVERLAP, align=2):
    """The tiling of h x w planes by tile_h x tile_w tiles (see tile_starts)."""
    overlap = min(overlap, tile_h // 2, tile_w // 2)  # at most half a tile: each tile keeps a middle of its own
    return Tiling(tile_starts(h, tile_h, overlap, align), tile_starts(w, tile_w, overlap, align), tile_h, tile_w,
                  overlap)


def render(run, planes, tile_h, tile_w, overlap=DEFAULT_OVERLAP, light=None, align=2, agreement=None):
    """The [1, 2H, 2W, 3] output of the planes [1, H, W, 4], rendered tile by tile by
    run(tile planes [1, tile_h, tile_w, 4], light) -> [1, 2 tile_h, 2 tile_w, 3]; `light` (the whole
    photo's, as model.tile_light gives it) is given to every tile. The planes are padded (edge values)
    where the tiles reach past them, and the output cropped back. An odd number of plane rows or
    columns (a RAW side not a multiple of 4) is sampled on the grid of the even ones, the training
    patches': the any-size graph samples an odd-sized input on another (TF's SAME padding puts one
    pixel before it, and depth_to_space lays the features out from the start), so there the two
    renders differ (odd_grid says so). `agreement` (an Agreement) collects how neighbouring tiles
    agree where they overlap."""
    _, h, w, _ = planes.shape
    t = plan(h, w, tile_h, tile_w, overlap, align)
    ph, pw = t.rows[-1] + tile_h, t.cols[-1] + tile_w
    if (ph, pw) != (h, w):
        planes = np.pad(planes, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    # weights at the output's resolution: each plane pixel is 2 x 2 output pixels
    wy = [np.repeat(v, 2) for v in axis_weights(t.rows, tile_h, ph, t.overlap)]
    wx = [np.repeat(v, 2) for v in axis_weights(t.cols, tile_w, pw, t.overlap)]
    out = np.zeros((1, 2 * ph, 2 * pw, 3), np.float32)
    above_row, r_prev = {}, None
    for r, y in zip(t.rows, wy):
        row, left = {}, None
        for c, x in zip(t.cols, wx):
            y_out = run(planes[:, r:r + tile_h, c:c + tile_w, :], light)
            if agreement is not None:
                _compare_neighbours(agreement, y_out, r, c, tile_h, tile_w, t.overlap // 4, left,
                                    (r_prev, above_row[c]) if c in above_row else None)
                row[c], left = y_out, (c, y_out)
            out[:, 2 * r:2 * (r + tile_h), 2 * c:2 * (c + tile_w), :] += y_out * (y[:, None] * x[None, :])[None, :, :, None]
        above_row, r_prev = row, r
    return out[:, :2 * h, :2 * w, :]


def odd_grid(planes_shape):
    """True where the any-size graph samples the planes on another grid than the tiles (an odd
    number of plane rows or columns)."""
    return bool(planes_shape[1] % 2 or planes_shape[2] % 2)


class Agreement:
    """The seam detector: how closely neighbouring tiles agree where they overlap, before they are
    blended (each tile's margin next to its inner edge left out, where it lacks neighbours by
    construction). Tiles that agree there cannot leave a seam when blended; tiles rendered with
    different light disagree by their colour difference. psnr() over every overlap (inf where they
    agree exactly), max_abs the largest difference."""

    def __init__(self):
        self.sse, self.n, self.max_abs = 0.0, 0, 0.0

    def add(self, a, b):
        d = a.astype(np.float64) - b
        self.sse += float(np.sum(d * d))
        self.n += d.size
        self.max_abs = max(self.max_abs, float(np.max(np.abs(d))) if d.size else 0.0)

    def psnr(self):
        if not self.n:
            return None
        mse = self.sse / self.n
        return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))

    def text(self):
        p = self.psnr()
        return "tiles agree in their overlaps to %s (max-abs %.2g)" % (
            "n/a" if p is None else ("%.1f dB" % p if p != float("inf") else "inf dB"), self.max_abs)


def _compare_neighbours(agreement, y_out, r, c, tile_h, tile_w, margin, left, above):
    """Add tile (r, c)'s agreement with its left and upper neighbours (outputs and offsets) in the
    shared part, its margins left out."""
    m = 2 * margin
    if left is not None:
        (lc, ly) = left
        a, b = 2 * c + m, 2 * (lc + tile_w) - m
        if b > a:
            agreement.add(np.clip(y_out[0, m:2 * tile_h - m, a - 2 * c:b - 2 * c], 0, 1),
                          np.clip(ly[0, m:2 * tile_h - m, a - 2 * lc:b - 2 * lc], 0, 1))
    if above is not None:
        (ar, ay) = above
        a, b = 2 * r + m, 2 * (ar + tile_h) - m
        if b > a:
            agreement.add(np.clip(y_out[0, a - 2 * r:b - 2 * r, m:2 * tile_w - m], 0, 1),
                          np.clip(ay[0, a - 2 * ar:b - 2 * ar, m:2 * tile_w - m], 0, 1))


class Tiled:
    """run(planes) for any photo size from run_tile(tile planes, light) of a fixed tile_h x tile_w
    (plane pixels); light_of(planes) gives the whole photo's light as the tiles take it (model.tile_light; None: the tiles take none).
    `last` holds the Tiling of the latest photo."""

    def __init__(self, run_tile, tile_h, tile_w, overlap=DEFAULT_OVERLAP, light_of=None, align=2):
        self.run_tile, self.tile_h, self.tile_w, self.overlap, self.light_of = run_tile, tile_h, tile_w, overlap, light_of
        self.align = align
        self.last = self.agreement = None

    def __call__(self, planes):
        _, h, w, _ = planes.shape
        self.last = plan(h, w, self.tile_h, self.tile_w, self.overlap, self.align)
        light = None if self.light_of is None else self.light_of(planes)
        self.agreement = Agreement()
        return render(self.run_tile, planes, self.tile_h, self.tile_w, self.overlap, light, align=self.align,
                      agreement=self.agreement)

    def described(self):
        """'3x2 tiles of 1920x1088, overlap >= 128 px; tiles agree in their overlaps to ...' for the
        latest photo (output pixels)."""
        t = self.last
        return "%dx%d tiles of %dx%d, overlap >= %d px; %s" % (
            len(t.cols), len(t.rows), 2 * t.tile_w, 2 * t.tile_h, 2 * t.overlap, self.agreement.text())


def peak_memory_mb():
    """This process's peak resident memory so far, in MB (Linux reports KiB, macOS bytes)."""
    import resource
    import sys
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
