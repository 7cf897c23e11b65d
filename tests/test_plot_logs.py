"""plot_logs.py: a PNG from training logs; bad input."""
import os

import numpy as np
from conftest import assert_usage_error, run_script
from PIL import Image

from plot_logs import default_label, plot, read_log

LOG_A = ("step 100 | training loss: 12.0 | validation: loss 9.1, content 0.0000, mse 0.055665, psnr 12.54, "
         "ms-ssim 0.7862, ssim 0.5 | 27.4 s\n"
         "step 200 | training loss: 9.9 | validation: loss 6.2, content 0.0000, mse 0.017508, psnr 17.57, "
         "ms-ssim 0.8777, ssim 0.6 | 50.2 s\n")


LOG_B = LOG_A.replace("psnr 12.54", "psnr 11.00").replace("psnr 17.57", "psnr 14.00")


def test_plot_logs_writes_a_png_from_two_logs(tmp_path):
    a, b = tmp_path / "logs_0-200.txt", tmp_path / "other.txt"
    a.write_text(LOG_A)
    b.write_text("some unrelated line\n" + LOG_B)
    out = str(tmp_path / "plot.png")
    proc = run_script("plot_logs.py", "logs=%s,%s" % (a, b), "labels=model,punet", "out=" + out)
    assert proc.returncode == 0, proc.stderr
    img = Image.open(out)
    img.verify()
    assert img.format == "PNG" and img.size[0] > 600
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # curves, not a blank page
    assert not os.path.exists(out + ".tmp.png")


def test_plot_logs_bad_input(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here\n")
    assert_usage_error(run_script("plot_logs.py", "logs=" + str(tmp_path / "missing.txt")), "not found")
    assert_usage_error(run_script("plot_logs.py", "logs=" + str(empty)), "no train_model.py validation lines")
    assert_usage_error(run_script("plot_logs.py"), "no logs given")


def test_plot_logs_reads_both_log_names_and_labels_axes_with_plain_numbers(tmp_path):
    old, new = tmp_path / "logs_0-200.txt", tmp_path / "logs_punet_0-200.txt"
    old.write_text(LOG_A)
    new.write_text(LOG_B.replace("step 100 ", "step 100000 ").replace("step 200 ", "step 200000 "))
    assert default_label(str(new)) == "punet 0-200" and default_label(str(old)) == "logs_0-200.txt"
    fig = plot([(default_label(str(p)), read_log(str(p))) for p in (old, new)], str(tmp_path / "p.png"))
    for ax in fig.axes:
        texts = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
        assert texts and not [t for t in texts if "$" in t or "e+" in t or "10^" in t], texts
        assert not ax.xaxis.get_offset_text().get_text() and not ax.yaxis.get_offset_text().get_text()
