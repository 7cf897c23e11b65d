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


def _visible_tick_labels(ax, axis):
    """(position, text) of the labelled ticks, major and minor, inside the axis's view limits, after a draw."""
    lo, hi = sorted(axis.get_view_interval())
    ticks = axis.get_major_ticks() + axis.get_minor_ticks()
    return [(t.get_loc(), t.label1.get_text()) for t in ticks
            if lo <= t.get_loc() <= hi and t.label1.get_visible() and t.label1.get_text()]


def _log(steps, losses):
    return "".join("step %d | training loss: %g | validation: loss %g, content 0.0000, mse 0.01, psnr %g, "
                   "ms-ssim 0.8, ssim 0.6 | 10.0 s\n" % (s, l * 1.1, l, 20 + s / 10.0) for s, l in zip(steps, losses))


def test_a_resumed_run_within_one_power_of_ten_has_numbers_on_every_axis_and_its_whole_span(tmp_path, monkeypatch):
    """Losses that stay between 0.02 and 0.05 (no power of ten in view on the log axis) still get
    numbers on the loss axis; a run continued from another is labelled 0-40, not 0-20."""
    import plot_logs
    first, second = tmp_path / "logs_model_0-20.txt", tmp_path / "logs_model_20-40.txt"
    first.write_text(_log([10, 20], [0.05, 0.04]))
    second.write_text(_log([30, 40], [0.03, 0.02]))
    figures = []
    real_plot = plot_logs.plot
    monkeypatch.setattr(plot_logs, "plot", lambda *a, **k: figures.append(real_plot(*a, **k)) or figures[-1])
    out = str(tmp_path / "plot.png")
    plot_logs.main(["logs=%s+%s" % (first, second), "out=" + out])
    (fig,) = figures
    assert os.path.isfile(out)
    ax_loss, ax_psnr = fig.axes
    for ax in (ax_loss, ax_psnr):
        for axis in (ax.xaxis, ax.yaxis):
            labels = _visible_tick_labels(ax, axis)
            assert len(labels) >= 2, (ax.get_title(), labels)
            assert not [t for _, t in labels if "$" in t or "e+" in t or "e-" in t], labels
    assert ax_loss.get_yscale() == "log"
    for ax in (ax_loss, ax_psnr):
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert texts and all(t.startswith("model 0-40") for t in texts), texts
    # the command line prints the same, and a single run is "1 run"
    proc = run_script("plot_logs.py", "logs=%s+%s" % (first, second), "out=" + str(tmp_path / "cli.png"))
    assert proc.returncode == 0 and proc.stdout.strip().endswith("(1 run)"), (proc.stdout, proc.stderr)


def test_minor_labels_stay_off_over_several_powers_of_ten(tmp_path):
    log = tmp_path / "logs_model_0-40.txt"
    log.write_text(_log([10, 20, 30, 40], [5.0, 0.5, 0.05, 0.005]))
    fig = plot([(default_label(str(log)), read_log(str(log)))], str(tmp_path / "p.png"))
    ax_loss = fig.axes[0]
    labels = _visible_tick_labels(ax_loss, ax_loss.yaxis)
    assert len(labels) >= 2 and all(float(t) in (0.001, 0.01, 0.1, 1.0, 10.0) for _, t in labels), labels


def test_default_label_of_a_resumed_run():
    assert default_label(["m/logs_punet_0-600.txt", "m/logs_punet_600-1200.txt"]) == "punet 0-1200"
    assert default_label("m/logs_punet_0-600.txt") == "punet 0-600"
    assert default_label(["m/logs_0-600.txt", "m/logs_600-1200.txt"]) == "logs_0-600.txt+logs_600-1200.txt"


def _legend(fig):
    return [t.get_text() for t in fig.axes[1].get_legend().get_texts()]


def test_a_resumed_run_plotted_from_its_first_log_or_its_model_dir_is_drawn_whole(tmp_path, monkeypatch):
    """A new user's case: a run to 400 interrupted at 202 and resumed leaves logs_model_0-400.txt (to
    202) and logs_model_202-400.txt. Plotting the first log, as README prints it, or the model_dir
    draws the whole run labelled model 0-400; the first log alone (not resumed yet) is labelled with
    the step it reached."""
    import plot_logs
    models = tmp_path / "models"
    models.mkdir()
    first = models / "logs_model_0-400.txt"
    first.write_text(_log([100, 200, 202], [0.05, 0.04, 0.04]))
    figures = []
    real_plot = plot_logs.plot
    monkeypatch.setattr(plot_logs, "plot", lambda *a, **k: figures.append(real_plot(*a, **k)) or figures[-1])
    plot_logs.main(["logs=%s" % first, "out=" + str(tmp_path / "a.png")])
    assert _legend(figures[-1]) == ["model 0-202 (of 0-400)"]
    (models / "logs_model_202-400.txt").write_text(_log([300, 400], [0.03, 0.02]))
    (models / "logs_punet_0-100.txt").write_text(_log([50, 100], [0.09, 0.08]))  # another run in the folder
    plot_logs.main(["logs=%s" % first, "out=" + str(tmp_path / "b.png")])
    assert _legend(figures[-1]) == ["model 0-400"]
    steps = figures[-1].axes[1].get_lines()[0].get_xdata()
    assert list(steps) == [100, 200, 202, 300, 400]
    plot_logs.main(["logs=%s" % models, "out=" + str(tmp_path / "c.png")])
    assert _legend(figures[-1]) == ["model 0-400", "punet 0-100"]
    proc = run_script("plot_logs.py", "logs=%s" % first, "out=" + str(tmp_path / "d.png"))
    assert proc.returncode == 0, proc.stderr
    assert "joined the resumed run's %s to %s" % (models / "logs_model_202-400.txt", first) in proc.stdout
