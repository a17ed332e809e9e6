#!/usr/bin/env python3
"""Write small ONNX models and their expected outputs for the onnx plugin.

Usage: gen_onnx_models.py OUTDIR

Models are built with onnx.helper; expected outputs come from numpy on its
own terms (never from ONNX Runtime). Deterministic: a fixed seed. Writes

  OUTDIR/models/<model>/1/model.onnx    one version folder per model
  OUTDIR/data/<case>/<n>.bin            raw tensor data (see below)
  OUTDIR/golden.tsv                     the cases, for onnx_test and
                                        onnx_daemon_test

golden.tsv has one tab-separated record per line:

  case  <name>  <version dir>           a case starts
  param <key>   <value>                 a model parameter for the case
  in    <name>  <DATATYPE> <shape> <file>
  out   <name>  <DATATYPE> <shape> <file>
  tol   <rtol>  <atol>                  float comparison (default exact)
  end                                   the case ends
  skip  <name>  <reason>                a case not to run, and why

<shape> is "[]" for a scalar or "[2,3]"; <DATATYPE> a corral name (FP32,
BYTES, ...); a file holds the tensor in corral's raw layout: little-endian
row-major values, BYTES as a 4-byte little-endian length and the bytes
per element. Some models have no case: onnx_test loads them for the
errors they must give (seq_in, rank9, complex_in, float8_in,
no_rank_in, not_a_model), and onnx_daemon_test serves some that must
fail to load (corrupt, opset99).
Prints nothing on success.
"""

import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 20240612
OPSET = 17
ML_OPSET = 3
IR_VERSION = 8

FLOAT8E4M3FN = 17  # TensorProto.FLOAT8E4M3FN in ONNX 1.14 and later

DT = {  # corral datatype -> (ONNX element type, numpy dtype for raw data)
    "BOOL": (TensorProto.BOOL, np.bool_),
    "UINT8": (TensorProto.UINT8, np.uint8),
    "UINT16": (TensorProto.UINT16, np.uint16),
    "UINT32": (TensorProto.UINT32, np.uint32),
    "UINT64": (TensorProto.UINT64, np.uint64),
    "INT8": (TensorProto.INT8, np.int8),
    "INT16": (TensorProto.INT16, np.int16),
    "INT32": (TensorProto.INT32, np.int32),
    "INT64": (TensorProto.INT64, np.int64),
    "FP16": (TensorProto.FLOAT16, np.float16),
    "BF16": (TensorProto.BFLOAT16, np.uint16),  # raw bfloat16 bits
    "FP32": (TensorProto.FLOAT, np.float32),
    "FP64": (TensorProto.DOUBLE, np.float64),
    "BYTES": (TensorProto.STRING, object),
}


# ------------------------------------------------------------ helpers ---

def bf16_to_f32(bits):
    """bfloat16 bit patterns (uint16) as float32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(x):
    """float32 to bfloat16 bits, rounding to nearest even (NaN kept)."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    return np.where(nan, 0x7FC0, rounded).astype(np.uint16)


def raw_bytes(datatype, array):
    """The corral raw layout of a numpy array of the datatype."""
    if datatype == "BYTES":
        out = bytearray()
        for s in np.asarray(array, dtype=object).reshape(-1):
            b = s if isinstance(s, bytes) else str(s).encode("utf-8")
            out += struct.pack("<I", len(b)) + b
        return bytes(out)
    np_type = DT[datatype][1]
    return np.ascontiguousarray(np.asarray(array).astype(np_type)).astype(
        np.dtype(np_type).newbyteorder("<")).tobytes()


def shape_text(shape):
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def tensor_info(name, datatype, shape):
    return helper.make_tensor_value_info(name, DT[datatype][0], shape)


def save_model(outdir, name, nodes, inputs, outputs, initializers=(),
               ml=False, opset=OPSET, check=True):
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)]
    if ml:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    model = helper.make_model(graph, opset_imports=opsets,
                              producer_name="corral gen_onnx_models")
    model.ir_version = IR_VERSION
    if check:
        onnx.checker.check_model(model)
    vdir = os.path.join(outdir, "models", name, "1")
    os.makedirs(vdir, exist_ok=True)
    onnx.save(model, os.path.join(vdir, "model.onnx"))
    return vdir


class Manifest:
    """golden.tsv and the data files it names."""

    def __init__(self, outdir):
        self.outdir = outdir
        self.lines = []

    def case(self, name, vdir, inputs, outputs, params=(), tol=None):
        """inputs/outputs: [(name, datatype, array)]."""
        ddir = os.path.join(self.outdir, "data", name)
        os.makedirs(ddir, exist_ok=True)
        self.lines.append(f"case\t{name}\t{vdir}")
        for key, value in params:
            self.lines.append(f"param\t{key}\t{value}")
        n = 0
        for kind, tensors in (("in", inputs), ("out", outputs)):
            for tname, datatype, array in tensors:
                path = os.path.join(ddir, f"{n}.bin")
                n += 1
                with open(path, "wb") as f:
                    f.write(raw_bytes(datatype, array))
                shape = np.shape(array)
                self.lines.append(f"{kind}\t{tname}\t{datatype}\t"
                                  f"{shape_text(shape)}\t{path}")
        if tol is not None:
            self.lines.append(f"tol\t{tol[0]!r}\t{tol[1]!r}")
        self.lines.append("end")

    def write(self):
        with open(os.path.join(self.outdir, "golden.tsv"), "w") as f:
            f.write("\n".join(self.lines) + "\n")


# ------------------------------------------------------------- models ---

INT_TYPES = ("UINT8", "UINT16", "UINT32", "UINT64",
             "INT8", "INT16", "INT32", "INT64")
FLOAT_TYPES = ("FP16", "FP32", "FP64")


def arithmetic(outdir, man, rng):
    """sum = a + b, prod = a * b over every numeric type."""
    for datatype in INT_TYPES + FLOAT_TYPES + ("BF16",):
        name = "arith_" + datatype.lower()
        if datatype == "BF16":
            # ONNX Runtime's CPU kernels have no bfloat16 Add or Mul: the
            # model computes in float and rounds back, as numpy does here.
            f = TensorProto.FLOAT
            nodes = [helper.make_node("Cast", ["a"], ["fa"], to=f),
                     helper.make_node("Cast", ["b"], ["fb"], to=f),
                     helper.make_node("Add", ["fa", "fb"], ["fsum"]),
                     helper.make_node("Mul", ["fa", "fb"], ["fprod"]),
                     helper.make_node("Cast", ["fsum"], ["sum"],
                                      to=TensorProto.BFLOAT16),
                     helper.make_node("Cast", ["fprod"], ["prod"],
                                      to=TensorProto.BFLOAT16)]
        else:
            nodes = [helper.make_node("Add", ["a", "b"], ["sum"]),
                     helper.make_node("Mul", ["a", "b"], ["prod"])]
        vdir = save_model(
            outdir, name, nodes,
            [tensor_info("a", datatype, [2, 3]),
             tensor_info("b", datatype, [2, 3])],
            [tensor_info("sum", datatype, [2, 3]),
             tensor_info("prod", datatype, [2, 3])])
        tol = None
        if datatype in INT_TYPES:
            lo = 0 if datatype.startswith("U") else -10
            # Small values: sums and products fit even in 8 bits.
            a = rng.integers(lo, 10, size=(2, 3)).astype(DT[datatype][1])
            b = rng.integers(lo, 10, size=(2, 3)).astype(DT[datatype][1])
            s, p = a + b, a * b
        elif datatype == "BF16":
            a = f32_to_bf16(rng.normal(0, 3, size=(2, 3)))
            b = f32_to_bf16(rng.normal(0, 3, size=(2, 3)))
            fa, fb = bf16_to_f32(a), bf16_to_f32(b)
            s, p = f32_to_bf16(fa + fb), f32_to_bf16(fa * fb)
            tol = (1e-2, 1e-2)  # a bfloat16 ulp near 10 is 0.0625
        else:
            np_type = DT[datatype][1]
            a = rng.normal(0, 3, size=(2, 3)).astype(np_type)
            b = rng.normal(0, 3, size=(2, 3)).astype(np_type)
            s, p = a + b, a * b
            tol = {"FP16": (1e-3, 1e-3), "FP32": (1e-6, 1e-6),
                   "FP64": (1e-12, 1e-12)}[datatype]
        man.case(name, vdir, [("a", datatype, a), ("b", datatype, b)],
                 [("sum", datatype, s), ("prod", datatype, p)], tol=tol)


def logic(outdir, man):
    """BOOL in and out: And, Or, Not."""
    vdir = save_model(
        outdir, "logic",
        [helper.make_node("And", ["a", "b"], ["and"]),
         helper.make_node("Or", ["a", "b"], ["or"]),
         helper.make_node("Not", ["a"], ["not"])],
        [tensor_info("a", "BOOL", [4]), tensor_info("b", "BOOL", [4])],
        [tensor_info("and", "BOOL", [4]), tensor_info("or", "BOOL", [4]),
         tensor_info("not", "BOOL", [4])])
    a = np.array([False, False, True, True])
    b = np.array([False, True, False, True])
    man.case("logic", vdir, [("a", "BOOL", a), ("b", "BOOL", b)],
             [("and", "BOOL", a & b), ("or", "BOOL", a | b),
              ("not", "BOOL", ~a)])


def two_in_two_out(outdir, man, rng):
    """Two inputs, two outputs of different types, a dynamic batch."""
    vdir = save_model(
        outdir, "dot_argmax",
        [helper.make_node("Mul", ["x", "y"], ["xy"]),
         helper.make_node("ReduceSum", ["xy", "axes"], ["dot"], keepdims=0),
         helper.make_node("ArgMax", ["x"], ["best"], axis=1, keepdims=0)],
        [tensor_info("x", "FP32", ["batch", 3]),
         tensor_info("y", "FP32", ["batch", 3])],
        [tensor_info("dot", "FP32", ["batch"]),
         tensor_info("best", "INT64", ["batch"])],
        [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    x = rng.normal(0, 1, size=(4, 3)).astype(np.float32)
    y = rng.normal(0, 1, size=(4, 3)).astype(np.float32)
    man.case("dot_argmax", vdir, [("x", "FP32", x), ("y", "FP32", y)],
             [("dot", "FP32", (x.astype(np.float64) * y).sum(axis=1)),
              ("best", "INT64", x.argmax(axis=1))], tol=(1e-5, 1e-6))


def scalar(outdir, man):
    """A 0-dimensional input and output."""
    vdir = save_model(
        outdir, "scalar",
        [helper.make_node("Mul", ["x", "two"], ["y"])],
        [tensor_info("x", "FP64", [])], [tensor_info("y", "FP64", [])],
        [numpy_helper.from_array(np.array(2.0), "two")])
    man.case("scalar", vdir, [("x", "FP64", np.array(-1.25))],
             [("y", "FP64", np.array(-2.5))])


def dynamic_batch(outdir, man, rng):
    """y = x W + b with a dynamic batch: several sizes, zero included;
    also with a pool of two intra-op threads."""
    w = rng.normal(0, 1, size=(4, 3)).astype(np.float32)
    b = rng.normal(0, 1, size=(3,)).astype(np.float32)
    vdir = save_model(
        outdir, "affine",
        [helper.make_node("MatMul", ["x", "w"], ["xw"]),
         helper.make_node("Add", ["xw", "b"], ["y"])],
        [tensor_info("x", "FP32", ["batch", 4])],
        [tensor_info("y", "FP32", ["batch", 3])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    for n in (5, 1, 0, 64):
        x = rng.normal(0, 1, size=(n, 4)).astype(np.float32)
        y = x.astype(np.float64) @ w + b
        man.case(f"affine_{n}", vdir, [("x", "FP32", x)],
                 [("y", "FP32", y)], tol=(1e-5, 1e-5))
    x = rng.normal(0, 1, size=(64, 4)).astype(np.float32)
    man.case("affine_threads2", vdir, [("x", "FP32", x)],
             [("y", "FP32", x.astype(np.float64) @ w + b)],
             params=[("intra_op_threads", "2")], tol=(1e-5, 1e-5))


def matmul(outdir, man, rng):
    """A product large enough that ONNX Runtime splits it across its
    intra-op threads."""
    w = rng.normal(0, 1, size=(256, 256)).astype(np.float32)
    vdir = save_model(
        outdir, "matmul256",
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        [tensor_info("x", "FP32", ["batch", 256])],
        [tensor_info("y", "FP32", ["batch", 256])],
        [numpy_helper.from_array(w, "w")])
    x = rng.normal(0, 1, size=(128, 256)).astype(np.float32)
    man.case("matmul256", vdir, [("x", "FP32", x)],
             [("y", "FP32", x.astype(np.float64) @ w)], tol=(1e-4, 1e-4),
             params=[("intra_op_threads", "2")])


def zero_sized(outdir, man):
    """A fixed zero-sized dimension: empty in, empty and non-empty out."""
    vdir = save_model(
        outdir, "zero_dim",
        [helper.make_node("Add", ["x", "x"], ["twice"]),
         helper.make_node("ReduceSum", ["x", "axes"], ["total"], keepdims=0)],
        [tensor_info("x", "INT32", [2, 0])],
        [tensor_info("twice", "INT32", [2, 0]),
         tensor_info("total", "INT32", [2])],
        [numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")])
    x = np.zeros((2, 0), dtype=np.int32)
    man.case("zero_dim", vdir, [("x", "INT32", x)],
             [("twice", "INT32", x + x), ("total", "INT32", x.sum(axis=1))])


CATEGORIES = [b"", b"cat", b"dog", b"caf\xc3\xa9", b"nul\x00byte", b"x" * 300]


def strings(outdir, man):
    """BYTES in, numbers out (CategoryMapper); and a model with a string
    output too, returned as BYTES."""
    cats = helper.make_node(
        "CategoryMapper", ["s"], ["ids"], domain="ai.onnx.ml",
        cats_strings=CATEGORIES, cats_int64s=list(range(10, 10 + len(CATEGORIES))),
        default_int64=-1)
    vdir = save_model(outdir, "strings", [cats],
                      [tensor_info("s", "BYTES", ["n"])],
                      [tensor_info("ids", "INT64", ["n"])], ml=True)
    s = np.array([b"dog", b"", b"nul\x00byte", b"bird", b"caf\xc3\xa9",
                  b"x" * 300, b"nul", b"cat"], dtype=object)
    lookup = {c: 10 + i for i, c in enumerate(CATEGORIES)}
    ids = np.array([lookup.get(v, -1) for v in s], dtype=np.int64)
    man.case("strings", vdir, [("s", "BYTES", s)], [("ids", "INT64", ids)])
    empty = np.array([], dtype=object)
    man.case("strings_empty", vdir, [("s", "BYTES", empty)],
             [("ids", "INT64", np.array([], dtype=np.int64))])

    cats2 = helper.make_node(
        "CategoryMapper", ["s"], ["ids"], domain="ai.onnx.ml",
        cats_strings=CATEGORIES, cats_int64s=list(range(10, 10 + len(CATEGORIES))),
        default_int64=-1)
    vdir = save_model(outdir, "strings_out",
                      [cats2, helper.make_node("Identity", ["s"], ["same"])],
                      [tensor_info("s", "BYTES", [2, 2])],
                      [tensor_info("same", "BYTES", [2, 2]),
                       tensor_info("ids", "INT64", [2, 2])], ml=True)
    s = np.array([[b"cat", b"?"], [b"", b"dog"]], dtype=object)
    ids = np.array([[lookup.get(v, -1) for v in row] for row in s],
                   dtype=np.int64)
    man.case("strings_out_ids", vdir, [("s", "BYTES", s)],
             [("ids", "INT64", ids)], params=[("outputs", "ids")])
    # Both outputs, the STRING one back as BYTES.
    man.case("strings_out", vdir, [("s", "BYTES", s)],
             [("same", "BYTES", s), ("ids", "INT64", ids)])
    odd = np.array([[b"nul\x00byte", b"x" * 300], [b"", b"caf\xc3\xa9"]], dtype=object)
    man.case("strings_out_odd", vdir, [("s", "BYTES", odd)],
             [("same", "BYTES", odd),
              ("ids", "INT64", np.array([[lookup.get(v, -1) for v in row] for row in odd],
                                        dtype=np.int64))])


def sequences(outdir, man):
    """A sequence output (refused unless left out) and a sequence input
    (always refused)."""
    vdir = save_model(
        outdir, "seq_out",
        [helper.make_node("SequenceConstruct", ["x", "x"], ["pair"]),
         helper.make_node("Neg", ["x"], ["neg"])],
        [tensor_info("x", "FP32", [3])],
        [helper.make_tensor_sequence_value_info("pair", TensorProto.FLOAT,
                                                [3]),
         tensor_info("neg", "FP32", [3])])
    x = np.array([1.5, -2.0, 0.0], dtype=np.float32)
    man.case("seq_out_neg", vdir, [("x", "FP32", x)], [("neg", "FP32", -x)],
             params=[("outputs", " neg ")])
    save_model(
        outdir, "seq_in",
        [helper.make_node("SequenceLength", ["items"], ["n"])],
        [helper.make_tensor_sequence_value_info("items", TensorProto.FLOAT,
                                                None)],
        [tensor_info("n", "INT64", [])])


def unsupported(outdir, man):
    """Tensors corral has no way to carry."""
    save_model(outdir, "rank9", [helper.make_node("Identity", ["x"], ["y"])],
               [tensor_info("x", "FP32", [1] * 9)],
               [tensor_info("y", "FP32", [1] * 9)])
    save_model(outdir, "complex_in",
               [helper.make_node("Shape", ["z"], ["shape"])],
               [helper.make_tensor_value_info("z", TensorProto.COMPLEX64, [2])],
               [tensor_info("shape", "INT64", [1])])
    # FLOAT8E4M3FN (ONNX 1.14, opset 19) is newer than Debian's onnx
    # module: element type 17 is written by number, with opset 21, and the
    # model is not checked by that module (ONNX Runtime checks it).
    save_model(outdir, "float8_in",
               [helper.make_node("Shape", ["x"], ["shape"])],
               [helper.make_tensor_value_info("x", FLOAT8E4M3FN, [2])],
               [tensor_info("shape", "INT64", [1])], opset=21, check=False)
    x = np.array([0.5, -3.0], dtype=np.float32)
    vdir = save_model(outdir, "float8_out",
                      [helper.make_node("Cast", ["x"], ["f8"], to=FLOAT8E4M3FN),
                       helper.make_node("Neg", ["x"], ["neg"])],
                      [tensor_info("x", "FP32", [2])],
                      [helper.make_tensor_value_info("f8", FLOAT8E4M3FN, [2]),
                       tensor_info("neg", "FP32", [2])], opset=21, check=False)
    man.case("float8_out_neg", vdir, [("x", "FP32", x)], [("neg", "FP32", -x)],
             params=[("outputs", "neg")])
    # No shape at all: ONNX Runtime reports it as rank 0, like a scalar.
    save_model(outdir, "no_rank_in", [helper.make_node("Neg", ["x"], ["y"])],
               [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
               check=False)  # the checker wants shapes; ONNX does not
    vdir = os.path.join(outdir, "models", "not_a_model", "1")
    os.makedirs(vdir, exist_ok=True)
    with open(os.path.join(vdir, "model.onnx"), "wb") as f:
        f.write(b"this is not a protobuf \xff\xff\xff\xff")


def unloadable(outdir, man):
    """Models ONNX Runtime cannot load, for onnx_daemon_test: 4 KiB of
    random bytes (a generator of their own, so the other models' data
    stays as it was), and an opset of the default domain from the future
    (99), which ONNX Runtime has no operators for."""
    vdir = os.path.join(outdir, "models", "corrupt", "1")
    os.makedirs(vdir, exist_ok=True)
    with open(os.path.join(vdir, "model.onnx"), "wb") as f:
        f.write(np.random.default_rng(SEED + 1).bytes(4096))
    # The checker would refuse opset 99; ONNX Runtime must say why.
    save_model(outdir, "opset99", [helper.make_node("Neg", ["x"], ["y"])],
               [tensor_info("x", "FP32", [3])],
               [tensor_info("y", "FP32", [3])], opset=99, check=False)


def undeclared_output(outdir, man):
    """An output of no declared shape, which shape inference cannot find
    either (the axes are data): its rank comes from the warm-up, whose
    integer inputs are ones (axes [1])."""
    vdir = save_model(
        outdir, "squeeze_axes",
        [helper.make_node("Squeeze", ["x", "axes"], ["y"])],
        [tensor_info("x", "FP32", ["n", 1, 3]),
         tensor_info("axes", "INT64", [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        check=False)  # the checker wants shapes; ONNX does not
    x = np.arange(6, dtype=np.float32).reshape(2, 1, 3)
    man.case("squeeze_axes", vdir,
             [("x", "FP32", x), ("axes", "INT64", np.array([1]))],
             [("y", "FP32", x.reshape(2, 3))])


def warm_up_cases(outdir, man, rng):
    """Models whose made-up warm-up inputs do not suit them."""
    # Reshape to rows of 4: one element (every dynamic dim = 1) cannot be.
    vdir = save_model(
        outdir, "rows_of_4",
        [helper.make_node("Reshape", ["x", "shape"], ["rows"])],
        [tensor_info("x", "FP32", ["n"])],
        [tensor_info("rows", "FP32", [-1, 4])],
        [numpy_helper.from_array(np.array([-1, 4], dtype=np.int64), "shape")])
    x = np.arange(8, dtype=np.float32)
    man.case("rows_of_4", vdir, [("x", "FP32", x)],
             [("rows", "FP32", x.reshape(-1, 4))])
    # Integer division: a warm-up with zeros would trap (SIGFPE).
    vdir = save_model(
        outdir, "int_div",
        [helper.make_node("Div", ["a", "b"], ["q"])],
        [tensor_info("a", "INT32", ["n"]), tensor_info("b", "INT32", ["n"])],
        [tensor_info("q", "INT32", ["n"])])
    a = rng.integers(-100, 100, size=6).astype(np.int32)
    b = np.array([3, -7, 1, 5, -2, 9], dtype=np.int32)
    q = np.trunc(a / b).astype(np.int32)  # C division truncates
    man.case("int_div", vdir, [("a", "INT32", a), ("b", "INT32", b)],
             [("q", "INT32", q)])


def casts(outdir, man, rng):
    """FP16 and BF16 to and from FP32 (the half types' own paths)."""
    vdir = save_model(
        outdir, "halves",
        [helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16),
         helper.make_node("Cast", ["x"], ["bh"], to=TensorProto.BFLOAT16),
         helper.make_node("Cast", ["h16"], ["back"], to=TensorProto.FLOAT)],
        [tensor_info("x", "FP32", [5]), tensor_info("h16", "FP16", [5])],
        [tensor_info("h", "FP16", [5]), tensor_info("bh", "BF16", [5]),
         tensor_info("back", "FP32", [5])])
    x = np.array([0.1, -2.5, 65504.0, 1e-8, 3.14159], dtype=np.float32)
    h16 = rng.normal(0, 10, size=5).astype(np.float16)
    man.case("halves", vdir, [("x", "FP32", x), ("h16", "FP16", h16)],
             [("h", "FP16", x.astype(np.float16)),
              ("bh", "BF16", f32_to_bf16(x)),
              ("back", "FP32", h16.astype(np.float32))])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = os.path.abspath(sys.argv[1])
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    man = Manifest(outdir)
    arithmetic(outdir, man, rng)
    logic(outdir, man)
    two_in_two_out(outdir, man, rng)
    scalar(outdir, man)
    dynamic_batch(outdir, man, rng)
    matmul(outdir, man, rng)
    zero_sized(outdir, man)
    strings(outdir, man)
    sequences(outdir, man)
    unsupported(outdir, man)
    unloadable(outdir, man)
    warm_up_cases(outdir, man, rng)
    undeclared_output(outdir, man)
    casts(outdir, man, rng)
    man.write()


if __name__ == "__main__":
    main()
