"""What a .tflite file declares, read without TensorFlow: its operators in execution order, with
the type of each of their tensors (the NNAPI check), and its input shape (inference_tflite.py checks
the photos' sizes before TensorFlow is imported).

A .tflite is a FlatBuffer of TFLite's schema (tensorflow/lite/schema/schema.fbs). It is read here
with `struct` alone, so that the same code runs on both stacks: TF 1.15's environment has neither the
`flatbuffers` package nor the generated schema module, and no interpreter is needed to list ops.
Only the fields these need are read (field numbers are the schema's):
  Model:        1 operator_codes, 2 subgraphs, 4 buffers
  OperatorCode: 0 deprecated_builtin_code (int8), 3 builtin_code (int32; the larger of the two counts)
  SubGraph:     0 tensors, 1 inputs, 3 operators
  Tensor:       0 shape, 1 type, 2 buffer, 3 name, 7 shape_signature (-1: a dimension of any size)
  Operator:     0 opcode_index, 1 inputs, 2 outputs, 4 builtin_options (a table; OPTION_FIELDS below)
  Buffer:       0 data, 1 offset (data stored after the FlatBuffer in files over 2 GB)
"""
import struct

from isp.errors import UsageError

# schema.fbs TensorType values, named as TFLite names them
TENSOR_TYPES = {0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
                7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 15: "UINT32", 16: "UINT16", 17: "INT4"}

# schema.fbs BuiltinOperator values of the operators the NNAPI table knows, and a few more; any
# other builtin is reported by its number (tests/test_nnapi.py checks these against LiteRT's schema)
BUILTIN_OPS = {
    0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE", 6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC", 17: "MAX_POOL_2D",
    18: "MUL", 19: "RELU", 21: "RELU6", 22: "RESHAPE", 23: "RESIZE_BILINEAR", 25: "SOFTMAX",
    26: "SPACE_TO_DEPTH", 28: "TANH", 34: "PAD", 40: "MEAN", 41: "SUB", 42: "DIV", 45: "STRIDED_SLICE",
    47: "EXP", 53: "CAST", 54: "PRELU", 55: "MAXIMUM", 57: "MINIMUM", 67: "TRANSPOSE_CONV", 73: "LOG",
    77: "SHAPE", 82: "REDUCE_MAX", 83: "PACK", 98: "LEAKY_RELU", 114: "QUANTIZE", 117: "HARD_SWISH",
    # and those the GPU delegate's rules name (isp/gpu_delegate.py)
    7: "EMBEDDING_LOOKUP", 8: "FLOOR", 16: "LSTM", 20: "RELU_N1_TO_1", 36: "GATHER", 39: "TRANSPOSE",
    49: "SPLIT", 58: "LESS", 59: "NEG", 60: "PADV2", 61: "GREATER", 62: "GREATER_EQUAL", 63: "LESS_EQUAL",
    64: "SELECT", 65: "SLICE", 66: "SIN", 69: "TILE", 71: "EQUAL", 72: "NOT_EQUAL", 74: "SUM", 75: "SQRT",
    76: "RSQRT", 78: "POW", 81: "REDUCE_PROD", 85: "ONE_HOT", 86: "LOGICAL_AND", 89: "REDUCE_MIN",
    90: "FLOOR_DIV", 92: "SQUARE", 95: "FLOOR_MOD", 97: "RESIZE_NEAREST_NEIGHBOR", 99: "SQUARED_DIFFERENCE",
    100: "MIRROR_PAD", 101: "ABS", 102: "SPLIT_V", 104: "CEIL", 106: "ADD_N", 108: "COS", 111: "ELU",
    123: "SELECT_V2", 124: "DENSIFY", 126: "BATCH_MATMUL", 128: "CUMSUM", 150: "GELU", 151: "DYNAMIC_UPDATE_SLICE",
    156: "ATAN2", 158: "SIGN",
}
# The integer fields read from an op's builtin options table, by op (schema.fbs field order): the
# GPU delegate refuses a STRIDED_SLICE with an ellipsis, a new axis or a shrunk axis.
OPTION_FIELDS = {"STRIDED_SLICE": ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
CUSTOM = 32  # BuiltinOperator.CUSTOM: the op's name is its custom_code string


class Tensor(object):
    def __init__(self, name, type_name, shape, constant):
        self.name, self.type, self.shape, self.constant = name, type_name, shape, constant

    def __repr__(self):
        return "%s%s%s" % (self.type, list(self.shape), " const" if self.constant else "")


class Op(object):
    """One operator: its TFLite name (e.g. CONV_2D), input and output Tensors (None for an
    omitted optional input), its index in execution order and the options OPTION_FIELDS names."""

    def __init__(self, index, name, inputs, outputs, options=None):
        self.index, self.name, self.inputs, self.outputs = index, name, inputs, outputs
        self.options = options or {}

    def __repr__(self):
        return "%d:%s(%s)" % (self.index, self.name, ", ".join(t.type if t else "-" for t in self.inputs))


class _Reader(object):
    """FlatBuffer tables: a table starts with an int32 back to its vtable, whose uint16s are the
    vtable's size, the table's size, then each field's offset in the table (0: field absent)."""

    def __init__(self, data):
        self.data = data

    def u32(self, pos):
        return struct.unpack_from("<I", self.data, pos)[0]

    def field(self, table, index):
        vtable = table - struct.unpack_from("<i", self.data, table)[0]
        vsize = struct.unpack_from("<H", self.data, vtable)[0]
        if 4 + 2 * index >= vsize:
            return None
        offset = struct.unpack_from("<H", self.data, vtable + 4 + 2 * index)[0]
        return table + offset if offset else None

    def scalar(self, table, index, fmt, default=0):
        pos = self.field(table, index)
        return default if pos is None else struct.unpack_from("<" + fmt, self.data, pos)[0]

    def ref(self, table, index):
        pos = self.field(table, index)
        return None if pos is None else pos + self.u32(pos)

    def vector(self, table, index):
        """(position of the first element, length) of a vector field; (0, 0) when absent."""
        pos = self.ref(table, index)
        return (0, 0) if pos is None else (pos + 4, self.u32(pos))

    def tables(self, table, index):
        start, n = self.vector(table, index)
        return [start + 4 * i + self.u32(start + 4 * i) for i in range(n)]

    def ints(self, table, index, fmt="i"):
        start, n = self.vector(table, index)
        return list(struct.unpack_from("<%d%s" % (n, fmt), self.data, start)) if n else []

    def string(self, table, index):
        start, n = self.vector(table, index)
        return self.data[start:start + n].decode("utf-8", "replace") if n else ""


def read_ops(path=None, content=None):
    """The ops of the first subgraph (the model's main graph), in execution order."""
    if content is None:
        with open(path, "rb") as f:
            content = f.read()
    name = path or "the converted model"
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise UsageError("%s is not a TFLite model (no TFL3 identifier); give a .tflite written by "
                         "convert_tflite.py or pb2tflite.sh" % name)
    try:
        return _read(_Reader(content))
    except (struct.error, IndexError) as err:
        raise UsageError("%s is truncated or damaged (%s); convert it again" % (name, err))


def frozen_graph(path):
    """True for a file that is a frozen TensorFlow graph (.pb) rather than a .tflite: named so, and
    without the TFLite identifier."""
    with open(path, "rb") as f:
        head = f.read(8)
    return path.lower().endswith((".pb", ".pbtxt")) and head[4:8] != b"TFL3"


def input_signature(path):
    """The input shape the .tflite at `path` declares: Tensor.shape_signature of the first
    subgraph's first input (-1 for a dimension of any size), or Tensor.shape where a converter wrote
    no signature; UsageError for a file that is not a TFLite model."""
    with open(path, "rb") as f:
        content = f.read()
    try:
        if content[4:8] != b"TFL3":
            raise ValueError("no TFL3 identifier")
        r = _Reader(content)
        subgraph = r.tables(r.u32(0), 2)[0]
        tensor = r.tables(subgraph, 0)[r.ints(subgraph, 1)[0]]
        shape = r.ints(tensor, 7) or (r.ints(tensor, 0) if r.field(tensor, 0) is not None else None)
    except (ValueError, IndexError, struct.error) as err:
        raise UsageError("cannot load %r as a TFLite model: %s" % (path, err or "not a TFLite flatbuffer"))
    if shape is None:
        raise UsageError("cannot load %r as a TFLite model: its input has no shape" % path)
    return tuple(shape)


def _read(r):
    model = r.u32(0)
    codes = []
    for oc in r.tables(model, 1):
        code = max(r.scalar(oc, 0, "b"), r.scalar(oc, 3, "i"))
        codes.append(r.string(oc, 1) if code == CUSTOM else BUILTIN_OPS.get(code, "BUILTIN_%d" % code))
    constant_buffers = set()
    for i, buf in enumerate(r.tables(model, 4)):
        if r.vector(buf, 0)[1] > 0 or r.scalar(buf, 1, "Q") > 0:
            constant_buffers.add(i)
    subgraph = r.tables(model, 2)[0]
    tensors = []
    for t in r.tables(subgraph, 0):
        type_code = r.scalar(t, 1, "b")
        tensors.append(Tensor(r.string(t, 3), TENSOR_TYPES.get(type_code, "TYPE_%d" % type_code),
                              tuple(r.ints(t, 0)), r.scalar(t, 2, "I") in constant_buffers))
    ops = []
    for i, op in enumerate(r.tables(subgraph, 3)):
        name = codes[r.scalar(op, 0, "I")]
        options = {}
        table = r.ref(op, 4)
        for k, field in enumerate(OPTION_FIELDS.get(name, ()) if table is not None else ()):
            options[field] = r.scalar(table, k, "i")
        ops.append(Op(i, name, [tensors[j] if j >= 0 else None for j in r.ints(op, 1)],
                      [tensors[j] for j in r.ints(op, 2)], options))
    return ops
