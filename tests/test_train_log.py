"""isp/train_log.py: the training log line, written once and read back by the same module."""
import os

from isp.train_log import (
    FIELDS,
    LOG_HEADER,
    find_log,
    format_log_line,
    log_path,
    log_text,
    parse_log_line,
    parse_log_name,
    read_log_lines,
)

VALUES = {"loss": 8.76543, "content": 0.0, "mse": 0.0123456, "psnr": 19.0912, "ms_ssim": 0.81234, "ssim": 0.70111}


def test_a_line_reads_back_as_it_was_written():
    line = format_log_line(600, 9.12345, VALUES, 123.45)
    assert line == ("step 600 | training loss: 9.1235 | validation: loss 8.7654, content 0.0000, mse 0.012346, "
                    "psnr 19.09, ms-ssim 0.8123, ssim 0.7011 | 123.5 s")
    row = parse_log_line(line + "\n")
    assert row["step"] == 600 and row["train_loss"] == 9.1235 and row["seconds"] == 123.5
    assert [row[k] for k in FIELDS] == [8.7654, 0.0, 0.012346, 19.09, 0.8123, 0.7011]


def test_other_lines_and_non_finite_values():
    assert parse_log_line("some unrelated line") is None
    assert parse_log_line("step 2 | training lo") is None
    row = parse_log_line(format_log_line(3, float("nan"), dict(VALUES, loss=float("inf")), 1.0))
    assert row["step"] == 3 and row["train_loss"] != row["train_loss"] and row["loss"] == float("inf")


def test_read_log_lines_skips_what_is_not_a_log_line(tmp_path):
    path = log_path(str(tmp_path), "model", 0, 4)
    assert os.path.basename(path) == "logs_model_0-4.txt"
    with open(path, "w") as f:
        f.write("header\n" + format_log_line(2, 1.0, VALUES, 1.0) + "\n" + format_log_line(4, 0.5, VALUES, 2.0) + "\n")
    assert [r["step"] for r in read_log_lines(path)] == [2, 4]


def test_log_names_tell_arches_apart_and_the_seeds_names_still_read(tmp_path):
    assert parse_log_name("runs/logs_punet_1000-2000.txt") == ("punet", 1000, 2000)
    assert parse_log_name("logs_0-600.txt") == (None, 0, 600)  # the seed's name: no arch
    assert parse_log_name("logs_0-600.txt.tmp") is None and parse_log_name("notes.txt") is None
    old = tmp_path / "logs_0-4.txt"
    old.write_text(format_log_line(4, 0.5, VALUES, 2.0) + "\n")
    assert find_log(str(tmp_path), "model", 0, 4) == str(old)  # a run from before: found by its old name
    new = log_path(str(tmp_path), "model", 0, 4)
    with open(new, "w") as f:
        f.write(format_log_line(4, 0.5, VALUES, 2.0) + "\n")
    assert find_log(str(tmp_path), "model", 0, 4) == new


def test_notes_after_the_seconds_read_back():
    line = format_log_line(7, 1.0, VALUES, 3.0, notes=["skipped 1 bad training file", "interrupt save (SIGTERM)"])
    assert line.endswith("| 3.0 s | skipped 1 bad training file | interrupt save (SIGTERM)")
    row = parse_log_line(line + "\n")
    assert row["step"] == 7 and row["seconds"] == 3.0 and row["psnr"] == 19.09
    assert row["notes"] == ["skipped 1 bad training file", "interrupt save (SIGTERM)"]
    assert parse_log_line(format_log_line(7, 1.0, VALUES, 3.0))["notes"] == []


def test_the_data_wait_reads_back_and_older_lines_still_parse():
    line = format_log_line(2000, 1.0, VALUES, 30.0, notes=["skipped 1 bad training file"], data_wait=0.123)
    assert line.endswith("| 30.0 s | data wait 0.12 s | skipped 1 bad training file")
    row = parse_log_line(line + "\n")
    assert row["data_wait_s"] == 0.12 and row["notes"] == ["skipped 1 bad training file"]
    assert row["seconds"] == 30.0 and row["psnr"] == 19.09
    older = format_log_line(1000, 1.0, VALUES, 15.0, notes=["interrupt save (SIGTERM)"])  # no re-draw: no field
    assert "data wait" not in older
    assert parse_log_line(older)["data_wait_s"] is None and parse_log_line(older)["notes"] == ["interrupt save (SIGTERM)"]
    seed_style = "step 600 | training loss: 9.1235 | validation: loss 8.7654, content 0.0000, mse 0.012346, psnr 19.09, ms-ssim 0.8123, ssim 0.7011"
    assert parse_log_line(seed_style)["data_wait_s"] is None  # a line of the seed's, without seconds


def test_the_input_wait_reads_back_beside_the_data_wait_and_lines_without_it_still_parse():
    line = format_log_line(3000, 1.0, VALUES, 45.0, notes=["interrupt save (SIGINT)"], data_wait=0.5, input_wait=0.04)
    assert line.endswith("| 45.0 s | data wait 0.50 s | input wait 0.0 ms/step | interrupt save (SIGINT)")
    row = parse_log_line(line + "\n")
    assert row["input_wait_ms"] == 0.0 and row["data_wait_s"] == 0.5 and row["notes"] == ["interrupt save (SIGINT)"]
    row = parse_log_line(format_log_line(4000, 1.0, VALUES, 60.0, input_wait=12.345))
    assert row["input_wait_ms"] == 12.3 and row["data_wait_s"] is None and row["notes"] == []
    older = format_log_line(1000, 1.0, VALUES, 15.0, notes=["skipped 1 bad training file"], data_wait=0.123)
    assert "input wait" not in older  # a line written before the field existed
    assert parse_log_line(older)["input_wait_ms"] is None and parse_log_line(older)["data_wait_s"] == 0.12
    assert parse_log_line(older)["notes"] == ["skipped 1 bad training file"]
    odd = parse_log_line(format_log_line(5, 1.0, VALUES, 1.0, notes=["input wait soon ms/step"]))
    assert odd["input_wait_ms"] is None and odd["notes"] == ["input wait soon ms/step"]  # not a number: a note


def test_a_new_log_starts_with_the_header_that_names_its_psnr_and_readers_skip_it(tmp_path):
    path = log_path(str(tmp_path), "model", 0, 4)
    v = dict(loss=1.0, content=0.0, mse=0.01, psnr=20.0, ms_ssim=0.9, ssim=0.8)
    for step in (2, 4):
        text = log_text(path, format_log_line(step, 1.5, v, 1.0))
        with open(path, "a") as f:
            f.write(text)
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == LOG_HEADER and "PSNR of the mean MSE" in LOG_HEADER and len(lines) == 3
    assert [row["step"] for row in read_log_lines(path)] == [2, 4]
