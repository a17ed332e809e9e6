#!/usr/bin/env python3
"""Write linear plugin models and their golden outputs for linear_test.

Usage: gen_linear_golden.py OUTDIR

For every case this writes
  OUTDIR/<case>/1/model.json   the model, in the format of docs/plugins/linear.md
  OUTDIR/<case>/golden.json    {"case", "link", "n_features", "n_outputs",
                                "inputs": [[row], ...],
                                "outputs": [{"name", "datatype", "shape",
                                             "data": [flat, row-major]}, ...]}
The expected outputs come from numpy on its own terms (matmul, logaddexp),
not from a port of the plugin's C code. Deterministic: a fixed seed.
Prints nothing on success.
"""

import json
import os
import sys

import numpy as np

SEED = 20240611
N_ROWS = 7
# Scores this close to a decision boundary could flip a label between
# numpy's summation order, the plugin's, and FP32-rounded inputs.
MARGIN = 1e-2


def random_rows(rng, n_features, keep=None):
    """N_ROWS rows: one all zero, the rest mixed signs and magnitudes.
    Rows that fail keep(row) (a label too close to call) are drawn again."""
    rows = np.zeros((N_ROWS, n_features))
    for r in range(1, N_ROWS):
        while True:
            row = rng.normal(0.0, 2.0, size=n_features)
            if r == 1:
                row = -np.abs(row)
            if r == 2:
                row[0] = 0.0
            if keep is None or keep(row):
                break
        rows[r] = row
    return rows


def clear_label(w, b):
    """A keep() for random_rows: the row's label has a margin."""
    def keep(row):
        z = np.sort(w @ row + b)[::-1]
        return abs(z[0]) >= MARGIN if len(z) == 1 else z[0] - z[1] >= MARGIN
    return keep


def expected(link, w, b, x):
    """The outputs (name, datatype, array) the plugin must produce."""
    z = x @ w.T + b
    if link == "identity":
        return [("prediction", "FP64", z)]
    if link == "logit":
        z1 = z[:, 0]
        # P(1) = 1 / (1 + e^-z) = exp(-log(1 + e^-z)), stable for any z.
        p = np.exp(-np.logaddexp(0.0, -z1))
        return [("probability", "FP64", p.reshape(-1, 1)),
                ("label", "INT64", (z1 > 0).astype(np.int64))]
    if link == "softmax":
        lse = np.logaddexp.reduce(z, axis=1, keepdims=True)
        p = np.exp(z - lse)
        return [("probabilities", "FP64", p),
                ("label", "INT64", np.argmax(z, axis=1).astype(np.int64))]
    raise ValueError(link)


def check_margins(name, link, w, b, x):
    """Refuse cases whose labels would hang on rounding."""
    z = x @ w.T + b
    for r, zr in enumerate(z):
        if link == "logit" and abs(zr[0]) < MARGIN:
            sys.exit(f"{name}: row {r} has score {zr[0]} too close to 0")
        if link == "softmax":
            top = np.sort(zr)[::-1]
            exact_tie = top[0] == top[1] and not x[r].any()
            if top[0] - top[1] < MARGIN and not exact_tie:
                sys.exit(f"{name}: row {r} has two classes too close")


def write_json(path, obj):
    """One top-level key a line; a matrix one row a line."""
    def value(v):
        if isinstance(v, list) and v and isinstance(v[0], list):
            return "[\n  " + ",\n  ".join(json.dumps(r) for r in v) + "\n ]"
        return json.dumps(v)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f" {json.dumps(k)}: {value(v)}"
                                     for k, v in obj.items()) + "\n}\n")


def write_case(outdir, name, link, w, b, x, feature_names=None):
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    check_margins(name, link, w, b, x)

    model = {"format": "corral-linear", "format_version": 1, "link": link}
    if feature_names is not None:
        model["feature_names"] = feature_names
    model["coefficients"] = w.tolist()
    model["intercepts"] = b.tolist()
    write_json(os.path.join(outdir, name, "1", "model.json"), model)

    outputs = [{"name": out_name, "datatype": dtype,
                "shape": list(arr.shape), "data": arr.ravel().tolist()}
               for out_name, dtype, arr in expected(link, w, b, x)]
    golden = {"case": name, "link": link, "n_features": w.shape[1],
              "n_outputs": w.shape[0], "inputs": x.tolist(),
              "outputs": outputs}
    write_json(os.path.join(outdir, name, "golden.json"), golden)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_linear_golden.py OUTDIR")
    outdir = sys.argv[1]
    rng = np.random.default_rng(SEED)

    # identity, one output: plain linear regression.
    f = 6
    write_case(outdir, "identity_1", "identity",
               rng.normal(0.0, 1.5, size=(1, f)), rng.normal(0.0, 3.0, size=1),
               random_rows(rng, f))

    # identity, three outputs (multi-target regression), with names.
    f = 4
    write_case(outdir, "identity_3", "identity",
               rng.normal(0.0, 1.0, size=(3, f)), rng.normal(0.0, 1.0, size=3),
               random_rows(rng, f), feature_names=["a", "b", "c", "d"])

    # logit: logistic regression.
    f = 4
    w, b = rng.normal(0.0, 1.0, size=(1, f)), np.array([0.25])
    write_case(outdir, "logit", "logit", w, b,
               random_rows(rng, f, clear_label(w, b)))

    # softmax over four classes.
    f = 5
    w, b = rng.normal(0.0, 1.0, size=(4, f)), rng.normal(0.0, 0.5, size=4)
    write_case(outdir, "softmax4", "softmax", w, b,
               random_rows(rng, f, clear_label(w, b)))

    # Scores around +-800: 1/(1+exp(-z)) computed naively overflows exp().
    write_case(outdir, "logit_large", "logit",
               [[100.0, -50.0, 25.0]], [0.5],
               [[0.0, 0.0, 0.0],
                [8.0, 0.0, 0.0],      # z = 800.5
                [-8.0, 0.0, 0.0],     # z = -799.5
                [-7.0, 2.0, -0.5],    # z = -812
                [0.3, 0.1, -0.2],     # z = 25.5
                [-0.41, 0.1, 0.3],    # z = -37
                [0.01, 0.02, -0.01]]) # z = 0.25

    # Softmax scores near +-800: exp() of the raw scores overflows (or, all
    # negative, underflows to 0/0). The zero row is an exact three-way tie:
    # the label is the first class.
    write_case(outdir, "softmax_large", "softmax",
               [[100.0, 0.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 100.0]],
               [0.0, 0.0, 0.0],
               [[0.0, 0.0, 0.0],
                [8.0, 7.99, 7.95],
                [-8.0, -8.01, -8.05],
                [9.0, -9.0, 0.0],
                [-9.0, 9.0, 0.5],
                [7.0, 7.5, 8.0],
                [-0.5, 0.25, -0.75]])


if __name__ == "__main__":
    main()
