"""Would a .tflite run on the phone's accelerator? Its ops and tensor types against NNAPI's table,
or (delegate=gpu) against the rules of TFLite's GPU delegate.

    python check_nnapi.py tflite=models/model_iteration_600_int8.tflite
    python check_nnapi.py tflite=models/challenge/model.tflite feature_level=4 every_op=True
    python check_nnapi.py tflite=models/model_iteration_600_fp16.tflite delegate=gpu

Prints each op that would fall back to the CPU under TFLite's NNAPI delegate, with the reason (op,
tensor type, feature level), and the number of NNAPI partitions (runs of accelerated ops in execution
order), ending e.g. "all ops on NNAPI, one partition". Feature level 4 is Android 11, the MAI21
phones' (MediaTek Dimensity 1000+). Exits 0 whether or not ops fall back, unless strict=True (then 2).
With delegate=gpu the same lines come from the GPU delegate's rules (isp/gpu_delegate.py), whose
partitions beyond the first stay on the CPU by default. The tables and their sources: isp/nnapi.py and
isp/gpu_delegate.py; the model of the delegates: docs/nnapi.md. convert_tflite.py,
pb2tflite.sh and export_challenge.py run the same check after every conversion.
"""
import os

from isp.args import Arg, parse_args, positive_int, to_bool
from isp.errors import UsageError, run_main
from isp import gpu_delegate
from isp.nnapi import DEFAULT_FEATURE_LEVEL, check, check_feature_level

DELEGATES = ("nnapi", "gpu")

ARGS = [
    Arg("tflite", str, "", "the .tflite to check"),
    Arg("feature_level", positive_int, DEFAULT_FEATURE_LEVEL, "NNAPI feature level (4: Android 11, the MAI21 phones)"),
    Arg("strict", to_bool, False, "exit 2 when an op falls back to the CPU"),
    Arg("every_op", to_bool, False, "list every op with its verdict, not only those on the CPU"),
    Arg("delegate", str, "nnapi", "which delegate's rules: nnapi (NNAPI's table at feature_level) or gpu "
        "(TFLite's GPU delegate)"),
]


def main(argv):
    a = parse_args(ARGS, argv, prog="check_nnapi.py", doc=__doc__)
    check_feature_level(a["feature_level"])
    if not a["tflite"]:
        raise UsageError("give the model to check: python check_nnapi.py tflite=<file.tflite>")
    if not os.path.isfile(a["tflite"]):
        raise UsageError("%r not found; give a .tflite written by convert_tflite.py or export_challenge.py" % a["tflite"])
    if a["delegate"] not in DELEGATES:
        raise UsageError("delegate=%s: give nnapi or gpu" % a["delegate"])
    if a["delegate"] == "gpu":
        verdict = gpu_delegate.check(a["tflite"])
    else:
        verdict = check(a["tflite"], feature_level=a["feature_level"])
    print("\n".join(verdict.lines(a["tflite"], a["every_op"])))
    if a["strict"] and verdict.cpu:
        raise UsageError("%s: %s (strict=True)" % (a["tflite"], verdict.summary()))


if __name__ == "__main__":
    run_main(main)
