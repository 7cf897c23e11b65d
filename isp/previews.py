"""Pictures to look at: a quick RGB preview of Bayer planes, side-by-side grids, PNG bytes.

Used by train_model.py (TensorBoard images, save_mid_imgs), isp/evaluate.py (result vs target),
dng2png.py (16-bit PNGs) and make_demo_data.py (its preview of training pairs).
"""
import importlib.util
import io
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from isp.utils import atomic_output


def raw_preview(planes, white_level=None):
    """A simple demosaic of float Bayer planes [h, w, 4] (B, Gb, R, Gr) for display.

    R, mean of the two greens, B; each image's brightness scaled so its 99th percentile is 0.9 (or,
    with `white_level`, divided by it: the RAW as the sensor saw it, a dark scene dark), a 1/2.2
    gamma, and a nearest-neighbour x2 upsampling to the full resolution.
    """
    rgb = np.stack([planes[..., 2], 0.5 * (planes[..., 1] + planes[..., 3]), planes[..., 0]], axis=-1)
    if white_level is None:
        rgb = rgb / max(float(np.percentile(rgb, 99)), 1e-6) * 0.9
    else:
        rgb = rgb / white_level
    rgb = np.clip(rgb, 0.0, 1.0) ** (1 / 2.2)
    rgb = rgb.repeat(2, axis=0).repeat(2, axis=1)
    return rgb.astype(np.float32)


def to_uint8(img):
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def grid(rows, gap=4):
    """Images in 0..1 (each [h, w, 3]) laid out as rows x columns, with white gaps."""
    h = max(img.shape[0] for row in rows for img in row)
    w = max(img.shape[1] for row in rows for img in row)
    ncols = max(len(row) for row in rows)
    out = np.ones((len(rows) * (h + gap) - gap, ncols * (w + gap) - gap, 3), np.float32)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            out[r * (h + gap):r * (h + gap) + img.shape[0], c * (w + gap):c * (w + gap) + img.shape[1]] = img
    return out


MIN_FONT = 11  # pixels: the smallest label text that stays readable
FONT_SHARE = 0.02  # label text height as a share of the picture's width


def label_font_size(width):
    """Pixel size of the label text on a picture `width` pixels wide: about 2% of the width (so the
    labels stay readable when a large picture is shrunk to fit a screen), at least MIN_FONT."""
    return max(MIN_FONT, int(round(FONT_SHARE * width)))


def _line_height(size):
    return int(round(1.3 * size))  # DejaVu Sans's ascent and descent with a little room


def label_band_height(caption=True, width=0):
    """Height of the band labelled_grid adds above images `width` pixels wide in all (the default:
    a picture narrow enough for the smallest text)."""
    return _line_height(label_font_size(width)) * (2 if caption else 1) + 3


def label_font(size):
    """DejaVu Sans (the TrueType font matplotlib ships, on both stacks) at `size` pixels; PIL's
    built-in font where it cannot be found, so that a picture is still written."""
    spec = importlib.util.find_spec("matplotlib")  # its folder, without importing it
    if spec is not None and spec.origin:
        path = os.path.join(os.path.dirname(spec.origin), "mpl-data", "fonts", "ttf", "DejaVuSans.ttf")
        if os.path.isfile(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def labelled_grid(rows, titles, caption="", gap=4):
    """grid(rows) with a white band above it: the caption on the first line (e.g. the iteration and
    the PSNR), and each column's title above it (e.g. RAW preview | output | target). The text is
    sized to the picture's width (label_font_size)."""
    body = grid(rows, gap)
    size = label_font_size(body.shape[1])
    line = _line_height(size)
    band = label_band_height(bool(caption), body.shape[1])
    out = np.ones((band + body.shape[0], body.shape[1], 3), np.float32)
    out[band:] = body
    canvas = Image.fromarray(to_uint8(out))
    draw = ImageDraw.Draw(canvas)
    font = label_font(size)
    margin = max(2, size // 4)
    y = 1
    if caption:
        draw.text((margin, y), caption, fill=(0, 0, 0), font=font)
        y += line
    col_w = max(img.shape[1] for row in rows for img in row)
    title_font = fitting_font(font, size, titles, col_w - 2 * margin)
    for c, title in enumerate(titles):
        draw.text((c * (col_w + gap) + margin, y), title, fill=(0, 0, 0), font=title_font)
    return np.asarray(canvas)


def fitting_font(font, size, texts, width):
    """`font` (at `size` pixels), or a smaller one in which each of `texts` fits `width` pixels (a
    column's titles must not run into the next column), not below MIN_FONT."""
    widest = max([font.getlength(t) for t in texts] or [0])
    if widest <= width or size <= MIN_FONT or not hasattr(font, "path"):  # PIL's built-in font has one size
        return font
    return label_font(max(MIN_FONT, int(size * width / widest)))


def save_png(path, img):
    """Write an image in 0..1 (or uint8, or a uint16 RAW mosaic as 16-bit) as PNG, atomically."""
    arr = img if img.dtype in (np.uint8, np.uint16) else to_uint8(img)
    with atomic_output(path, ".tmp.png") as tmp:
        Image.fromarray(arr).save(tmp)


def png_bytes(img):
    buf = io.BytesIO()
    Image.fromarray(img if img.dtype == np.uint8 else to_uint8(img)).save(buf, format="PNG")
    return buf.getvalue()
