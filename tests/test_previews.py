"""isp/previews.py: the labelled pictures (training previews, output | target) have text sized to the picture."""
import numpy as np

from isp import previews

CAPTION = "1, model_iteration_4: PSNR 9.52 dB, SSIM 0.4000"


def _labelled(width, height=64):
    img = np.full((height, width, 3), 0.5, np.float32)
    return img, previews.labelled_grid([[img, img]], ("output", "target"), CAPTION)


def _dark_rows(band):
    """Rows of the band that hold text (dark pixels on the white band)."""
    return np.nonzero((band.min(axis=-1) < 128).any(axis=1))[0]


def test_label_text_grows_with_the_picture_and_the_images_stay_below_it():
    heights = []
    for width in (192, 960, 1920):
        img, out = _labelled(width)
        band = previews.label_band_height(True, 2 * width + 4)
        assert out.shape == (band + 64, 2 * width + 4, 3)
        np.testing.assert_array_equal(out[band:], previews.to_uint8(previews.grid([[img, img]])))
        rows = _dark_rows(out[:band])
        assert len(rows) > 0  # there is text in the band
        heights.append((band, rows[-1] - rows[0]))
    assert heights[0][0] < heights[1][0] < heights[2][0]
    assert heights[0][1] < heights[1][1] < heights[2][1]
    # on the 3844-pixel-wide output | target of a 1920x1088 photo, the two lines of text are at
    # least 2% of the width tall each: readable when the picture is shrunk to fit a screen
    band, text = heights[2]
    assert text >= 2 * 0.02 * 3844 * 0.7 and band <= 0.06 * 3844


def test_small_pictures_get_the_smallest_readable_text_and_the_default_band():
    _, out = _labelled(64)
    assert out.shape[0] - 64 == previews.label_band_height() == previews.label_band_height(True, 132)
    rows = _dark_rows(out[:previews.label_band_height()])
    assert len(rows) > 0
    assert previews.label_band_height(False) < previews.label_band_height()


def test_the_caption_keeps_its_spaces():
    """"PSNR 9.52 dB" is drawn with a visible gap between the words (not "PSNR9.52 dB")."""
    img = np.ones((8, 1000, 3), np.float32)
    joined = previews.labelled_grid([[img]], ("",), "PSNR9.52")
    spaced = previews.labelled_grid([[img]], ("",), "PSNR 9.52")

    def ink_width(out):
        cols = np.nonzero((out[:-8].min(axis=-1) < 128).any(axis=0))[0]
        return cols[-1] - cols[0]
    assert ink_width(spaced) - ink_width(joined) >= 0.2 * previews.label_font_size(1000)


def test_a_column_title_never_runs_into_the_next_column():
    # Three 600-px columns with titles too long for 2% of the picture's width: each title is set
    # smaller, so that the band above each gap between columns stays white.
    cols = [np.full((50, 600, 3), 0.5, np.float32) for _ in range(3)]
    long = "pretrained (orig=True): PSNR 21.35 dB, SSIM 0.7165"
    img = previews.labelled_grid([cols], [long, long, "target"], "1.png", gap=4)
    band = img[:previews.label_band_height(True, img.shape[1])]
    for c in (1, 2):
        left = c * 604 - 4
        assert (band[:, left - 6:left + 4] == 255).all()  # no text at the end of a column nor in the gap
    assert (band[:, :600] < 128).any() and (band[:, 604:1204] < 128).any()  # the titles are there
