"""Would a .tflite run on a phone's GPU? Its ops judged against the rules of TFLite's (LiteRT's) GPU
delegate, the accelerator path Android's NNAPI migration guide points to and the one the MAI 2022
ISP challenge timed its entries with.

The rules are those the delegate applies before it takes a node (docs/nnapi.md, "The GPU delegate",
names the sources):
  C: tensorflow/lite/tools/versioning/gpu_compatibility.cc, CheckGpuDelegateCompatibility: per
     builtin, how many runtime (non-constant) and constant inputs it may have, which inputs must be
     constant int32 (reduction axes), the ranks it handles, the STRIDED_SLICE masks it refuses;
  B: tensorflow/lite/delegates/gpu/common/model_builder.cc, GetOpsToReplace / IsAllAllowedTensors:
     every non-constant input and output is float32 or float16 (int8 and uint8 too, as quantised
     models are taken by default), of rank 4 or less; CAST may also read and write int32 and bool;
     the DEQUANTIZE ops of constant float16 weights (an FP16 file) are folded into their consumers
     (FP16GraphPartitionHelper); by default the delegate takes one partition
     (max_delegated_partitions = 1) and leaves the others on the CPU.
Activation and broadcast details (rarely at stake in a convolutional ISP) are not modelled.
"""
from isp.nnapi import Verdict
from isp.tflite_ops import read_ops

DELEGATE = "GPU delegate"
TENSOR_TYPES = ("FLOAT32", "FLOAT16", "INT8", "UINT8")
MAX_RANK = 4

# builtin: (runtime inputs allowed, constant inputs allowed or None for any, source); None: any count
UNARY = (1, 0, "C: one-argument elementwise")
BINARY = ((1, 2), (0, 1), "C: two-argument elementwise: 2 runtime, or 1 runtime + 1 constant")
ONE_IN = (1, None, "C: CheckInputsOutputs(1 runtime input, 1 output)")
ANY = (None, None, "C: accepted as it comes")
RULES = {
    "ADD": ((1, 2), None, "C: two inputs, broadcastable"),
    "MUL": ((1, 2), None, "C: two inputs, one not smaller than the other in every dimension"),
    "CONV_2D": ((1, 2), None, "C: 1 or 2 runtime inputs"),
    "DEPTHWISE_CONV_2D": ((1, 2), None, "C: 1 or 2 runtime inputs"),
    "TRANSPOSE_CONV": ((1, 2), None, "C: 1 or 2 runtime inputs (the output shape constant)"),
    "FULLY_CONNECTED": ((1, 2), None, "C: at most 2 runtime inputs, the first not constant"),
    "AVERAGE_POOL_2D": ONE_IN, "MAX_POOL_2D": ONE_IN, "DEPTH_TO_SPACE": ONE_IN, "SPACE_TO_DEPTH": ONE_IN,
    "QUANTIZE": ONE_IN, "RESHAPE": ONE_IN, "TILE": ONE_IN, "TRANSPOSE": ONE_IN, "RESIZE_BILINEAR": ONE_IN,
    "RESIZE_NEAREST_NEIGHBOR": ONE_IN, "CAST": ONE_IN, "PAD": ONE_IN, "PADV2": ONE_IN, "MIRROR_PAD": ONE_IN,
    "HARD_SWISH": ONE_IN,
    "MEAN": (1, 1, "C: 1 runtime input, constant int32 axes"),
    "REDUCE_MAX": ONE_IN, "REDUCE_MIN": ONE_IN, "REDUCE_PROD": ONE_IN, "SUM": ONE_IN,
    "CONCATENATION": ANY, "PACK": ANY, "SPLIT": ANY, "SPLIT_V": ANY, "RELU": ANY, "RELU6": ANY,
    "RELU_N1_TO_1": ANY, "LEAKY_RELU": ANY, "PRELU": ANY, "SOFTMAX": ANY, "DEQUANTIZE": ANY,
    "STRIDED_SLICE": ANY, "SLICE": ANY,
    "ABS": UNARY, "CEIL": UNARY, "COS": UNARY, "ELU": UNARY, "EXP": UNARY, "FLOOR": UNARY, "GELU": UNARY,
    "LOG": UNARY, "LOGISTIC": UNARY, "NEG": UNARY, "RSQRT": UNARY, "SIGN": UNARY, "SIN": UNARY,
    "SQRT": UNARY, "SQUARE": UNARY, "TANH": UNARY,
    "DIV": BINARY, "MAXIMUM": BINARY, "MINIMUM": BINARY, "POW": BINARY, "SUB": BINARY,
    "SQUARED_DIFFERENCE": BINARY, "FLOOR_DIV": BINARY, "FLOOR_MOD": BINARY, "ATAN2": BINARY,
}
# builtins the delegate has no case for (C's default branch: "Not supported op")
UNSUPPORTED = {"SHAPE"}
AXES_OPS = ("MEAN", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "SUM")
PAD_OPS = ("PAD", "PADV2", "MIRROR_PAD")


def _count(allowed, n):
    return allowed is None or n in (allowed if isinstance(allowed, tuple) else (allowed,))


def _shape_rule(op):
    """The op-specific rule of gpu_compatibility.cc beyond input counts, or None when it holds."""
    name = op.name
    if name in AXES_OPS:
        axes = op.inputs[1] if len(op.inputs) > 1 else None
        if axes is None or not axes.constant or axes.type != "INT32":
            return "%s with computed axes: the GPU delegate takes only constant int32 axes" % name
    if name in PAD_OPS:
        pads = op.inputs[1] if len(op.inputs) > 1 else None
        if pads is None or len(pads.shape) != 2 or pads.shape[0] not in (3, 4) or pads.shape[1] != 2:
            return "%s with paddings of shape %s: the GPU delegate takes 3x2 or 4x2" % (
                name, "x".join(str(d) for d in pads.shape) if pads is not None else "none")
    if name == "MUL" and len(op.inputs) == 2 and all(t is not None for t in op.inputs):
        a, b = op.inputs[0].shape, op.inputs[1].shape
        if len(a) == len(b) and any(x < y for x, y in zip(a, b)) and any(y < x for x, y in zip(a, b)):
            return "MUL of %s by %s: the GPU delegate needs one input not smaller in every dimension" % (
                list(a), list(b))
    if name == "FULLY_CONNECTED" and op.inputs and op.inputs[0] is not None and op.inputs[0].constant:
        return "FULLY_CONNECTED of a constant input: the GPU delegate does not take it"
    if name in ("STRIDED_SLICE", "SLICE"):
        need = 4 if name == "STRIDED_SLICE" else 3
        if len(op.inputs) < need or len(op.inputs[0].shape) not in (3, 4):
            return "%s of a rank-%d tensor: the GPU delegate slices 3- or 4-dimensional tensors only" % (
                name, len(op.inputs[0].shape) if op.inputs else 0)
        masks = [k for k in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask") if op.options.get(k)]
        if masks:
            return "STRIDED_SLICE with %s: the GPU delegate does not take it" % " and ".join(masks)
    if name == "DEQUANTIZE" and op.inputs and op.inputs[0] is not None and op.inputs[0].type == "INT16":
        return "DEQUANTIZE of int16: the GPU delegate does not take it"
    return None


def _tensor_rule(op):
    """model_builder.cc's IsAllAllowedTensors: the types and ranks of the non-constant tensors."""
    types = TENSOR_TYPES + (("INT32", "BOOL") if op.name == "CAST" else ())
    for role, tensors in (("input", op.inputs), ("output", op.outputs)):
        for t in tensors:
            if t is None or t.constant:
                continue
            if len(t.shape) > MAX_RANK:
                return "%s with a rank-%d %s: the GPU delegate takes tensors of rank %d or less" % (
                    op.name, len(t.shape), role, MAX_RANK)
            if t.type not in types:
                return "%s with a computed %s %s: the GPU delegate passes only float (or quantised) tensors " \
                       "between its ops" % (op.name, t.type.lower(), role)
    return None


def judge_op(op):
    """'nnapi' (the delegate takes it: the name the partition model shares with isp/nnapi.py),
    'folded' (constant float16 weights dequantised into their consumers) or the reason the op
    stays on the CPU."""
    if op.name in UNSUPPORTED:
        return "no GPU delegate operation for %s (gpu_compatibility.cc has no case for it)" % op.name
    rule = RULES.get(op.name)
    if rule is None:
        return "%s is not in this check's table (isp/gpu_delegate.py): counted as running on the CPU" % op.name
    if op.name == "DEQUANTIZE" and op.inputs and op.inputs[0] is not None and op.inputs[0].type == "FLOAT16" \
            and op.inputs[0].constant:
        return "folded"
    inputs = [t for t in op.inputs if t is not None]
    runtime = sum(1 for t in inputs if not t.constant)
    const = len(inputs) - runtime
    allowed_runtime, allowed_const, source = rule
    shape_rule = _shape_rule(op)
    if shape_rule:
        return shape_rule
    if not _count(allowed_runtime, runtime) or not _count(allowed_const, const):
        return "%s with %d runtime and %d constant inputs: the GPU delegate takes %s" % (
            op.name, runtime, const, source.split(": ", 1)[1])
    return _tensor_rule(op) or "nnapi"


class GpuVerdict(Verdict):
    def summary(self):
        text = super(GpuVerdict, self).summary()
        if self.partitions > 1:  # the delegate's default max_delegated_partitions is 1
            text += " (by default the delegate takes only the first; the rest run on the CPU)"
        return text


def check(path=None, content=None, ops=None):
    return GpuVerdict(read_ops(path, content) if ops is None else ops, judge_op, DELEGATE)
