#!/usr/bin/env python3
"""Make the example ONNX model of the bundled repository.

Usage: gen_example_model.py [--check] [MODEL_ONNX]

MODEL_ONNX defaults to configs/models/iris_onnx/1/model.onnx in this source
tree. Writes it, or with --check compares it with what this script makes
and exits 1 if they differ (ctest runs that: the committed file must be
the one this script makes).

The model is iris species from four flower measurements in centimetres
(sepal length, sepal width, petal length, petal width), as a softmax
regression with the fixed weights of configs/models/iris version 2 (the
linear plugin's): the two models give the same probabilities, one through
ONNX Runtime in float32, the other in the linear plugin in float64.

  input          FP32 [batch, 4]   the measurements
  probabilities  FP32 [batch, 3]   setosa, versicolor, virginica
  label          INT64 [batch]     0 setosa, 1 versicolor, 2 virginica

  logits = Gemm(input, W, b, transB=1); probabilities = Softmax(logits);
  label = ArgMax(logits)

Built with onnx.helper (Debian's python3-onnx): deterministic, a few
hundred bytes.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# configs/models/iris/2/model.json: one row of coefficients per species.
COEFFICIENTS = [
    [-0.841401, 0.924989, -0.772441, -1.46575],
    [0.0127952, -1.11909, 0.0429838, -0.414373],
    [0.828606, 0.194103, 0.729457, 1.88012],
]
INTERCEPTS = [6.42205, 4.80824, -11.2303]
SPECIES = ["setosa", "versicolor", "virginica"]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

OPSET = 13  # Softmax over one axis (opset 13's), ArgMax, Gemm
IR_VERSION = 7

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "..", "configs", "models", "iris_onnx",
                       "1", "model.onnx")


def build():
    w = numpy_helper.from_array(np.array(COEFFICIENTS, dtype=np.float32), "W")
    b = numpy_helper.from_array(np.array(INTERCEPTS, dtype=np.float32), "b")
    nodes = [
        helper.make_node("Gemm", ["input", "W", "b"], ["logits"], transB=1,
                         name="linear"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1,
                         name="softmax"),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1,
                         keepdims=0, name="argmax"),
    ]
    graph = helper.make_graph(
        nodes, "iris",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       ["batch", 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                       ["batch", 3]),
         helper.make_tensor_value_info("label", TensorProto.INT64,
                                       ["batch"])],
        initializer=[w, b],
        doc_string="Iris species from " + ", ".join(FEATURES) +
                   " (cm). Outputs: probabilities of " + ", ".join(SPECIES) +
                   "; label, the index of the most likely.")
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", OPSET)],
        producer_name="corral tests/onnx/gen_example_model.py")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def main():
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    if len(args) > 1:
        sys.exit(__doc__)
    path = args[0] if args else DEFAULT
    data = build()
    if check:
        with open(path, "rb") as f:
            if f.read() != data:
                sys.exit(f"{path} is not what gen_example_model.py makes: "
                         "run it again and commit the result")
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
