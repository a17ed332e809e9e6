#!/usr/bin/env python3
"""Convert ONNX's own backend node tests for onnx_test.

Usage: gen_onnx_backend.py OUTDIR [TESTDATA_DIR]

TESTDATA_DIR defaults to the node tests of Debian's libonnx-testdata, found
through the onnx module (onnx/backend/test/data/node). Each test there is a folder with
model.onnx and test_data_set_N/{input,output}_K.pb (TensorProto). This
writes OUTDIR/cases.tsv in the format gen_onnx_models.py documents, with
the inputs and expected outputs as raw files under OUTDIR/data/, and the
version folder of each case pointing at the test's own folder (the plugin
reads its model.onnx there).

Every test is listed: run, or `skip` with the reason the plugin cannot
take it (a sequence or optional value, a tensor without
a declared rank). Floats are compared as ONNX's backend runner compares
them: rtol 1e-3, atol 1e-7. Prints one summary line.
"""

import os
import struct
import sys

import numpy as np
import onnx
import onnx.backend.test
from onnx import TensorProto, numpy_helper

RTOL, ATOL = 1e-3, 1e-7
MAX_DIMS = 8
MAX_NAME = 127  # the host keeps output names shorter than 128 bytes

# Operators whose outputs are random draws: no reference can match them.
RANDOM_OPS = {"Bernoulli", "Multinomial", "RandomNormal", "RandomNormalLike",
              "RandomUniform", "RandomUniformLike"}

# Cases where ONNX Runtime's answer and this ONNX's reference data differ
# for reasons of their own (checked one by one): ONNX Runtime's backend
# test runner (onnxruntime/test/testdata/onnx_backend_test_series_filters
# .jsonc) lists the first three as failing.
REFERENCE_DIFFERS = {
    "test_cast_FLOAT_to_BFLOAT16":
        "ONNX 1.12's reference truncates float to bfloat16; ONNX Runtime "
        "rounds to nearest even, as later ONNX specifies",
    "test_maxunpool_export_with_output_shape":
        "ONNX Runtime's MaxUnpool differs from the reference (listed as "
        "failing by ONNX Runtime's own backend runner)",
    "test_resize_downsample_scales_cubic_align_corners":
        "ONNX Runtime's align_corners downsampling differs from the "
        "reference (listed as failing by ONNX Runtime's own backend runner)",
    "test_resize_downsample_scales_linear_align_corners":
        "ONNX Runtime's align_corners downsampling differs from the "
        "reference (listed as failing by ONNX Runtime's own backend runner)",
    # Numbers to text: ONNX 1.12's reference writes Python's shortest
    # repr; ONNX Runtime writes other digits (3 more bytes over 12 values).
    "test_cast_FLOAT_to_STRING":
        "ONNX Runtime writes floats as text with other digits than the "
        "reference's shortest form",
    "test_castlike_FLOAT_to_STRING":
        "ONNX Runtime writes floats as text with other digits than the "
        "reference's shortest form",
    "test_castlike_FLOAT_to_STRING_expanded":
        "ONNX Runtime writes floats as text with other digits than the "
        "reference's shortest form",
}

# Float32 FFTs leave values around 1e-4 where the float64 reference has
# exact zeros, so atol 1e-7 cannot hold; ONNX Runtime's runner loosens
# atol for its DFT tests too (onnx_backend_test_series_overrides.jsonc).
ATOL_OVERRIDES = {name: 1e-3 for name in (
    "test_dft", "test_dft_axis", "test_dft_inverse", "test_stft",
    "test_stft_with_window")}

DATATYPES = {
    TensorProto.BOOL: ("BOOL", np.bool_),
    TensorProto.UINT8: ("UINT8", np.uint8),
    TensorProto.UINT16: ("UINT16", np.uint16),
    TensorProto.UINT32: ("UINT32", np.uint32),
    TensorProto.UINT64: ("UINT64", np.uint64),
    TensorProto.INT8: ("INT8", np.int8),
    TensorProto.INT16: ("INT16", np.int16),
    TensorProto.INT32: ("INT32", np.int32),
    TensorProto.INT64: ("INT64", np.int64),
    TensorProto.FLOAT16: ("FP16", np.float16),
    TensorProto.BFLOAT16: ("BF16", None),
    TensorProto.FLOAT: ("FP32", np.float32),
    TensorProto.DOUBLE: ("FP64", np.float64),
    TensorProto.STRING: ("BYTES", None),
}


def why_not(value_info, is_input):
    """Why the plugin cannot carry this graph input or output, or None."""
    t = value_info.type
    kind = t.WhichOneof("value")
    name = value_info.name
    if kind != "tensor_type":
        what = {"sequence_type": "a sequence", "optional_type": "an optional",
                "map_type": "a map", "sparse_tensor_type": "a sparse tensor"}
        return (f"{'input' if is_input else 'output'} '{name}' is "
                f"{what.get(kind, kind)}")
    elem = t.tensor_type.elem_type
    if elem not in DATATYPES:
        return f"'{name}' has element type " + \
            TensorProto.DataType.Name(elem)
    if not t.tensor_type.HasField("shape"):
        return (f"'{name}' has no declared rank (a corral signature "
                "cannot say 'any rank')")
    if len(t.tensor_type.shape.dim) > MAX_DIMS:
        return f"'{name}' has more than {MAX_DIMS} dimensions"
    if len(name.encode()) > MAX_NAME or any(c in name for c in "\t\n"):
        return f"'{name}' is a name the case file cannot hold"
    return None


def raw_of(tp, declared):
    """corral datatype, shape and raw bytes of a TensorProto, for a graph
    input or output of element type `declared`."""
    if declared == TensorProto.BFLOAT16 and tp.data_type == TensorProto.UINT16:
        # ONNX 1.12's generator wrote bfloat16 data as UINT16 bits.
        tp.data_type = TensorProto.BFLOAT16
        if not tp.raw_data:
            tp.int32_data[:] = list(tp.int32_data)
    datatype, np_type = DATATYPES[tp.data_type]
    shape = list(tp.dims)
    if datatype == "BF16":
        # Debian's onnx (1.12) widens bfloat16 to float32; keep the bits.
        if tp.raw_data:
            bits = np.frombuffer(tp.raw_data, dtype="<u2")
        else:
            bits = np.array(tp.int32_data, dtype=np.uint32).astype(np.uint16)
        return datatype, shape, bits.astype("<u2").tobytes()
    array = numpy_helper.to_array(tp)
    if datatype == "BYTES":
        out = bytearray()
        for s in array.reshape(-1):
            b = s if isinstance(s, bytes) else str(s).encode("utf-8")
            out += struct.pack("<I", len(b)) + b
        return datatype, shape, bytes(out)
    data = np.ascontiguousarray(array.astype(np_type))
    return datatype, shape, data.astype(data.dtype.newbyteorder("<")).tobytes()


def read_tensor(path):
    tp = TensorProto()
    with open(path, "rb") as f:
        tp.ParseFromString(f.read())
    return tp


def convert(test_dir, name, outdir, lines):
    """Append the records of one test; returns True if it is to run."""
    model = onnx.load(os.path.join(test_dir, "model.onnx"),
                      load_external_data=False)
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    for vi, is_input in [(i, True) for i in inputs] + \
                        [(o, False) for o in graph.output]:
        reason = why_not(vi, is_input)
        if reason:
            lines.append(f"skip\t{name}\t{reason}")
            return False
    for node in graph.node:
        if node.op_type in RANDOM_OPS or (
                node.op_type == "Dropout" and len(node.input) > 2 and
                node.input[2] != ""):
            what = ("Dropout in training mode draws a random mask"
                    if node.op_type == "Dropout" else
                    f"{node.op_type} draws random numbers")
            lines.append(f"skip\t{name}\t{what}: no reference can match")
            return False
    if name in REFERENCE_DIFFERS:
        lines.append(f"skip\t{name}\t{REFERENCE_DIFFERS[name]}")
        return False
    sets = sorted(d for d in os.listdir(test_dir)
                  if d.startswith("test_data_set_"))
    for s in sets:
        case = name if len(sets) == 1 else f"{name}/{s}"
        sdir = os.path.join(test_dir, s)
        ddir = os.path.join(outdir, "data", case)
        os.makedirs(ddir, exist_ok=True)
        records = [f"case\t{case}\t{test_dir}"]
        n = 0
        for kind, infos in (("input", inputs), ("output", graph.output)):
            for k, vi in enumerate(infos):
                tname = vi.name
                pb = os.path.join(sdir, f"{kind}_{k}.pb")
                if not os.path.exists(pb):
                    # An optional input the test leaves out.
                    lines.append(f"skip\t{case}\t{kind} {k} ('{tname}') "
                                 "has no data in the test")
                    return False
                tensor_type = vi.type.tensor_type
                datatype, shape, raw = raw_of(read_tensor(pb),
                                              tensor_type.elem_type)
                declared = [d.dim_value if d.HasField("dim_value") else -1
                            for d in tensor_type.shape.dim]
                if kind == "input" and (len(declared) != len(shape) or any(
                        d >= 0 and d != n for d, n in zip(declared, shape))):
                    lines.append(f"skip\t{case}\tinput '{tname}' has data "
                                 f"of shape {shape}, the model declares "
                                 f"{declared} (ONNX Runtime refuses it too)")
                    return False
                path = os.path.join(ddir, f"{n}.bin")
                n += 1
                with open(path, "wb") as f:
                    f.write(raw)
                dims = "[" + ",".join(str(d) for d in shape) + "]"
                tag = "in" if kind == "input" else "out"
                records.append(f"{tag}\t{tname}\t{datatype}\t{dims}\t{path}")
        records.append(f"tol\t{RTOL!r}\t{ATOL_OVERRIDES.get(name, ATOL)!r}")
        records.append("end")
        lines.extend(records)
    return True


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    outdir = os.path.abspath(sys.argv[1])
    src = sys.argv[2] if len(sys.argv) == 3 else os.path.join(
        os.path.dirname(onnx.backend.test.__file__), "data", "node")
    if not os.path.isdir(src):
        sys.exit(f"{src}: not found (Debian: apt-get install libonnx-testdata)")
    os.makedirs(outdir, exist_ok=True)
    lines = []
    run = skipped = 0
    for name in sorted(os.listdir(src)):
        test_dir = os.path.join(src, name)
        if not os.path.isfile(os.path.join(test_dir, "model.onnx")):
            continue
        if convert(test_dir, name, outdir, lines):
            run += 1
        else:
            skipped += 1
    with open(os.path.join(outdir, "cases.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{run + skipped} ONNX backend node tests: {run} to run, "
          f"{skipped} skipped (see skip records in cases.tsv)")


if __name__ == "__main__":
    main()
