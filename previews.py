"""Pictures to look at: a quick RGB preview of Bayer planes, side-by-side grids, PNG bytes.

Used by train_model.py (TensorBoard images, save_mid_imgs), evaluate.py (result vs target),
dng2png.py (16-bit PNGs) and make_demo_data.py (its preview of training pairs).
"""
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from utils import atomic_output


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


LINE = 13  # pixels per line of label text (PIL's built-in font)


def labelled_grid(rows, titles, caption="", gap=4):
    """grid(rows) with a white band above it: the caption on the first line (e.g. the iteration and
    the PSNR), and each column's title above it (e.g. RAW preview | output | target)."""
    body = grid(rows, gap)
    lines = (1 if caption else 0) + 1
    band = LINE * lines + 3
    out = np.ones((band + body.shape[0], body.shape[1], 3), np.float32)
    out[band:] = body
    canvas = Image.fromarray(to_uint8(out))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    y = 1
    if caption:
        draw.text((2, y), caption, fill=(0, 0, 0), font=font)
        y += LINE
    col_w = max(img.shape[1] for row in rows for img in row)
    for c, title in enumerate(titles):
        draw.text((c * (col_w + gap) + 2, y), title, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def label_band_height(caption=True):
    """Height of the band labelled_grid adds above the images."""
    return LINE * (2 if caption else 1) + 3


def save_png(path, img):
    """Write an image in 0..1 (or uint8, or a uint16 RAW mosaic as 16-bit) as PNG, atomically."""
    arr = img if img.dtype in (np.uint8, np.uint16) else to_uint8(img)
    with atomic_output(path, ".tmp.png") as tmp:
        Image.fromarray(arr).save(tmp)


def png_bytes(img):
    buf = io.BytesIO()
    Image.fromarray(img if img.dtype == np.uint8 else to_uint8(img)).save(buf, format="PNG")
    return buf.getvalue()
