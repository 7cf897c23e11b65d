"""Would a .tflite run on the phone's accelerator? Its ops judged against NNAPI's operation table.

The MAI21 phones (MediaTek Dimensity 1000+, Android 11) reach their APU through Android's NNAPI,
by TFLite's NNAPI delegate. The delegate takes an op only when NNAPI has an operation for it that
accepts the op's tensor type at the device's NNAPI feature level; every other op runs on the CPU,
and each one between accelerated ops cuts the graph into another NNAPI partition (the tensors cross
between the accelerator and the CPU at every cut, for every photo). docs/nnapi.md says more.

Feature levels: 1 = Android 8.1 (API 27), 2 = Android 9 (API 28), 3 = Android 10 (API 29),
4 = Android 11 (API 30, the MAI21 phones), 5 = Android 12.
"""
from isp.errors import UsageError
from isp.tflite_ops import read_ops
from isp.utils import plural

DEFAULT_FEATURE_LEVEL = 4

# NNAPI's operand types, by the TFLite tensor type the delegate gives them
NNAPI_TYPES = {"FLOAT32": "TENSOR_FLOAT32", "FLOAT16": "TENSOR_FLOAT16", "UINT8": "TENSOR_QUANT8_ASYMM",
               "INT8": "TENSOR_QUANT8_ASYMM_SIGNED", "INT32": "TENSOR_INT32"}

# Sources of the table:
#   H: NNAPI's NeuralNetworks.h (platform/packages/modules/NeuralNetworks runtime/include), the
#      "Supported tensor OperandCode" list of each ANEURALNETWORKS_* operation and the feature level
#      ("since NNAPI feature level N" / "API level") at which each type was added;
#   D: TFLite's NNAPI delegate, tensorflow/lite/delegates/nnapi/nnapi_delegate.cc,
#      NNAPIDelegateKernel::Validate (the minimum SDK and the input types it accepts per builtin) and
#      Map (which NNAPI operation a builtin becomes).
# Where the two differ the delegate wins: it decides what reaches NNAPI. Its float checks take
# float32 only (float16 activations are not delegated), and TENSOR_QUANT8_ASYMM_SIGNED (int8) is
# NNAPI's since feature level 4 (the delegate's int8 -> uint8 rewrite for older levels is not
# modelled here: on those, int8 ops are judged as falling back).
F32_U8_I8 = {"FLOAT32": 1, "UINT8": 1, "INT8": 4}
# TFLite builtins the delegate has no case for (D: Validate rejects them): they stay on the CPU
UNMAPPED = {"SHAPE"}
# TFLite builtin: (NNAPI operation, {TFLite tensor type: first feature level}, source, note)
TABLE = {
    "ADD": ("ADD", dict(F32_U8_I8, INT32=4), "D: float or quant8; int32 since NNAPI 1.3 (FL4)", ""),
    "MUL": ("MUL", dict(F32_U8_I8, INT32=4), "D: float or quant8; int32 since NNAPI 1.3 (FL4)", ""),
    "SUB": ("SUB", {"FLOAT32": 2, "UINT8": 3, "INT8": 4, "INT32": 4}, "D: float since 1.1, quant since 1.2", ""),
    "DIV": ("DIV", {"FLOAT32": 2}, "D: float32 only, since NNAPI 1.1", ""),
    "AVERAGE_POOL_2D": ("AVERAGE_POOL_2D", F32_U8_I8, "D+H: float or quant8", ""),
    "MAX_POOL_2D": ("MAX_POOL_2D", F32_U8_I8, "D+H: float or quant8", ""),
    "CONV_2D": ("CONV_2D", F32_U8_I8, "D+H: float or quant8 (bias required)", ""),
    "DEPTHWISE_CONV_2D": ("DEPTHWISE_CONV_2D", F32_U8_I8, "D+H: float or quant8", ""),
    "FULLY_CONNECTED": ("FULLY_CONNECTED", F32_U8_I8, "D+H: float or quant8", ""),
    "CONCATENATION": ("CONCATENATION", dict(F32_U8_I8, FLOAT16=3), "D: float16, float32, uint8, int8", ""),
    "DEPTH_TO_SPACE": ("DEPTH_TO_SPACE", F32_U8_I8, "D: float32, uint8, int8", ""),
    "SPACE_TO_DEPTH": ("SPACE_TO_DEPTH", F32_U8_I8, "D: float32, uint8, int8", ""),
    "RESHAPE": ("RESHAPE", F32_U8_I8, "D: float or quant8, constant shape", ""),
    "SOFTMAX": ("SOFTMAX", F32_U8_I8, "D: float or quant8", ""),
    "LOGISTIC": ("LOGISTIC", F32_U8_I8, "D: float or quant8", ""),
    "RELU": ("RELU", F32_U8_I8, "D: float or quant8", ""),
    "RELU6": ("RELU6", F32_U8_I8, "D: float or quant8", ""),
    "TANH": ("TANH", {"FLOAT32": 1, "UINT8": 3, "INT8": 4}, "D: quantised tanh since NNAPI 1.2", ""),
    "RESIZE_BILINEAR": ("RESIZE_BILINEAR", {"FLOAT32": 1, "UINT8": 3, "INT8": 4},
                        "D: float only before NNAPI 1.2", ""),
    "PAD": ("PAD", {"FLOAT32": 2, "UINT8": 3, "INT8": 4}, "D: since 1.1, float only before 1.2", ""),
    "MEAN": ("MEAN", {"FLOAT32": 2, "UINT8": 3, "INT8": 4}, "D: since 1.1, quantised since 1.2", ""),
    "STRIDED_SLICE": ("STRIDED_SLICE", {"FLOAT32": 2, "UINT8": 2, "INT8": 4},
                      "D: since NNAPI 1.1; H: float16/float32/quant8 tensors, no TENSOR_INT32", ""),
    "LOG": ("LOG", {"FLOAT32": 3}, "D: ExpectIsFloatOperator, since NNAPI 1.2; H: TENSOR_FLOAT16/FLOAT32 only", ""),
    "EXP": ("EXP", {"FLOAT32": 3}, "D: ExpectIsFloatOperator, since NNAPI 1.2; H: TENSOR_FLOAT16/FLOAT32 only", ""),
    "MAXIMUM": ("MAXIMUM", {"FLOAT32": 3, "UINT8": 3, "INT8": 4, "INT32": 3}, "D: since NNAPI 1.2", ""),
    "MINIMUM": ("MINIMUM", {"FLOAT32": 3, "UINT8": 3, "INT8": 4, "INT32": 3}, "D: since NNAPI 1.2", ""),
    "REDUCE_MAX": ("REDUCE_MAX", {"FLOAT32": 3, "UINT8": 3, "INT8": 4}, "D: since NNAPI 1.2", ""),
    "LEAKY_RELU": ("PRELU", {"FLOAT32": 3, "UINT8": 3, "INT8": 4},
                   "D: mapped to PRELU with a one-value alpha tensor, since NNAPI 1.2", ""),
    "PRELU": ("PRELU", {"FLOAT32": 3, "UINT8": 3, "INT8": 4}, "D: since NNAPI 1.2", ""),
    "TRANSPOSE_CONV": ("TRANSPOSE_CONV_2D", {"FLOAT32": 3, "UINT8": 3, "INT8": 4},
                       "D: since NNAPI 1.2, output shape and weights must be constant", "const_shape"),
    "QUANTIZE": ("QUANTIZE", {"UINT8": 3, "INT8": 4},
                 "D: since NNAPI 1.2, float32 or quantised input; output uint8, int8 since 1.3", "by_output"),
    "DEQUANTIZE": ("DEQUANTIZE", {"UINT8": 1, "INT8": 3, "FLOAT16": 4},
                   "D: uint8/int8 input; non-constant float16 since NNAPI 1.3; constant float16 weights "
                   "are dequantised by the delegate itself (IsDequantizeConstFloat16)", "fp16_weights"),
    "PACK": ("CONCATENATION+RESHAPE", {"FLOAT32": 4, "INT8": 4, "INT32": 4},
             "D: since NNAPI 1.3, int32/float32/int8, not on the last axis", ""),
    "CAST": ("CAST", {"FLOAT32": 3, "UINT8": 3, "INT32": 3, "INT8": 4}, "D: since NNAPI 1.2", ""),
}


def float_only_ops():
    """The TFLite builtins NNAPI accepts in float but never quantised (LOG, EXP, DIV, ...): an INT8
    export keeps these few in float (tflite.convert), between a DEQUANTIZE and a QUANTIZE, both of
    which NNAPI runs, so that the whole model stays one NNAPI partition."""
    return sorted(name for name, (_, types, _, _) in TABLE.items()
                  if "FLOAT32" in types and not {"UINT8", "INT8"} & set(types))


def data_input(op):
    """The tensor whose type decides: the first non-constant input (TRANSPOSE_CONV's data is its
    third input, after the output shape and the weights), else the first input."""
    ins = [t for t in op.inputs if t is not None]
    if op.name == "TRANSPOSE_CONV" and len(op.inputs) > 2 and op.inputs[2] is not None:
        return op.inputs[2]
    for t in ins:
        if not t.constant:
            return t
    return ins[0] if ins else None


def judge_op(op, feature_level):
    """'nnapi', 'folded' (the delegate absorbs it: constant float16 weights) or the reason the op
    stays on the CPU."""
    entry = TABLE.get(op.name)
    if op.name in UNMAPPED:
        return "no NNAPI operation for %s (TFLite's NNAPI delegate does not map it)" % op.name
    if entry is None:
        return "%s is not in this check's table (isp/nnapi.py): counted as running on the CPU" % op.name
    nnapi_op, types, _, rule = entry
    tensor = data_input(op)
    if rule == "fp16_weights" and tensor is not None and tensor.type == "FLOAT16" and tensor.constant:
        return "folded"
    if rule == "by_output":
        tensor = op.outputs[0]
    type_name = tensor.type if tensor is not None else "none"
    first = types.get(type_name)
    nn_type = NNAPI_TYPES.get(type_name, type_name)
    if first is None:
        accepted = ", ".join(NNAPI_TYPES[t] for t in NNAPI_TYPES if t in types)
        return "%s on %s: NNAPI's %s takes %s" % (op.name, type_name.lower(), nnapi_op, accepted)
    if first > feature_level:
        return "%s on %s: NNAPI's %s takes %s from feature level %d (checked at %d)" % (
            op.name, type_name.lower(), nnapi_op, nn_type, first, feature_level)
    if rule == "const_shape" and not all(t is not None and t.constant for t in op.inputs[:2]):
        return "%s with a computed output shape: the delegate takes only a constant one" % op.name
    return "nnapi"


class Verdict(object):
    """The ops of one .tflite judged for one delegate: `judge(op)` says 'nnapi' (the delegate takes
    it), 'folded' (it absorbs it: constant float16 weights) or why it stays on the CPU. `delegate`
    names it in the lines ("NNAPI", "GPU delegate"), `where` says how it was checked."""

    def __init__(self, ops, judge, delegate="NNAPI", where=""):
        self.ops, self.delegate, self.where = ops, delegate, where
        self.judged = []
        for op in ops:
            why = judge(op)
            if why == "folded":  # the delegate hands the float16 constant itself to the consumers
                for t in op.outputs:
                    t.constant = True
            self.judged.append((op, why))
        self.cpu = [(op, why) for op, why in self.judged if why not in ("nnapi", "folded")]
        self.partitions = count_partitions([why for _, why in self.judged])

    @property
    def ok(self):
        return not self.cpu and self.partitions <= 1

    def summary(self):
        if not self.cpu:
            on = "all ops on %s" % self.delegate if self.delegate == "NNAPI" else "all ops on the %s" % self.delegate
            return on + ", one partition" if self.partitions == 1 else on
        counts = {}  # "LOG on int8" -> how many, in order of first appearance
        order = []
        for op, _ in self.cpu:
            t = data_input(op)
            kind = "%s on %s" % (op.name, (t.type if t is not None else "none").lower())
            if kind not in counts:
                order.append(kind)
            counts[kind] = counts.get(kind, 0) + 1
        names = ", ".join(k if counts[k] == 1 else "%s x%d" % (k, counts[k]) for k in order)
        return "%s back to the CPU (%s): %s" % (
            plural(len(self.cpu), "op falls", "ops fall"), names, plural(self.partitions, "%s partition" % self.delegate))

    def lines(self, name, every_op=False):
        out = ["%s check of %s%s (%d ops):" % (self.delegate, name, self.where and " " + self.where, len(self.ops))]
        label = self.delegate.split()[0]
        for op, why in (self.judged if every_op else self.cpu):
            if why == "nnapi":
                out.append("  %s: op %r" % (label, op))
            elif why == "folded":
                out.append("  folded: op %r (constant float16 weights, dequantised by the delegate)" % op)
            else:
                out.append("  CPU: op %d %s" % (op.index, why))
        out.append("  " + self.summary())
        return out


def count_partitions(verdicts):
    """The partition model: ops are taken in execution order (the file's, which the interpreter
    keeps); each maximal run of accelerated ops is one NNAPI partition, ops the delegate folds in
    ('folded') neither start nor end a run. The delegate itself partitions the dependency graph and
    may join independent runs, so on a branching graph this is an upper bound."""
    runs, inside = 0, False
    for why in verdicts:
        if why == "folded":
            continue
        if why == "nnapi" and not inside:
            runs += 1
        inside = why == "nnapi"
    return runs


def check(path=None, content=None, feature_level=DEFAULT_FEATURE_LEVEL, ops=None):
    return Verdict(read_ops(path, content) if ops is None else ops, lambda op: judge_op(op, feature_level),
                   "NNAPI", "at feature level %d" % feature_level)


def check_feature_level(level):
    if not 1 <= level <= 8:
        raise UsageError("feature_level=%d: give an NNAPI feature level from 1 to 8 (4: Android 11, the MAI21 "
                         "phones)" % level)
