#!/usr/bin/env python3
"""Train small XGBoost models and record XGBoost's own predictions for them.

Usage: gen_xgb_models.py OUTDIR

For every case this writes
  OUTDIR/<case>/<fmt>/1/model.<ext>   the booster, saved by Booster.save_model
                                      as JSON (json), UBJSON (ubj) and the
                                      legacy binary format (bin, and for one
                                      case also xgb)
  OUTDIR/<case>/cases.json            {"case", "objective", "booster",
                                       "num_feature", "num_class", "rounds",
                                       "feature_names": [..] or null,
                                       "formats": [..],
                                       "inputs": [[row], ...] (null = NaN),
                                       "runs": [{"name", "params": {k: v},
                                                 "output": {"name", "shape",
                                                            "data": [flat]}}]}
  OUTDIR/cases.txt                    the case names, one a line

The expected outputs are what XGBoost's Python package predicts through a
DMatrix, Booster.predict(DMatrix(X, missing=m), output_margin=...,
iteration_range=...), not through the in-place path the plugin uses; the
"output" name and shape are the plugin's documented signature
(docs/plugins/xgboost.md). Every "params" map holds the load parameters
(strings, as config.yaml gives them) that make the plugin do the same.
Values are float32, written with repr() of the exact value so that the C
side reads back the same float. Deterministic: fixed seeds, one thread.
Prints nothing on success.
"""

import json
import os
import sys
import warnings

import numpy as np
import xgboost as xgb

SEED = 20240612
N_TRAIN = 200
N_FEATURES = 5
N_TEST = 20
ROUNDS = 6

FORMATS = {"json": "model.json", "ubj": "model.ubj", "bin": "model.bin",
           "xgb": "model.xgb"}


def features(rng, n):
    """n rows of float32 features, about one entry in ten missing (NaN)."""
    x = rng.normal(0.0, 1.0, size=(n, N_FEATURES)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x


def test_rows(rng):
    """The rows every case is asked about: random ones, one all missing, one
    all zero, one with a single missing value, some exact zeros (for the
    missing=0 runs) and a few far outside the training range."""
    x = features(rng, N_TEST)
    x[0, :] = np.nan
    x[1, :] = 0.0
    x[2, 3] = np.nan
    x[3, 1] = 0.0
    x[4, 0] = 0.0
    x[5, :] = 25.0
    x[6, :] = -25.0
    return x


def score(x):
    """A hidden signal the targets follow (missing counts as 0)."""
    z = np.nan_to_num(x.astype(np.float64), nan=0.0)
    return 1.2 * z[:, 0] - 0.8 * z[:, 1] + 0.5 * z[:, 2] * z[:, 3] \
        + np.sin(z[:, 4])


def label_for(objective, rng, x):
    s = score(x) + rng.normal(0.0, 0.3, size=len(x))
    if objective in ("binary:logistic",):
        return (s > 0).astype(np.float64)
    if objective in ("multi:softprob", "multi:softmax"):
        return np.digitize(s, [-0.7, 0.7]).astype(np.float64)
    if objective == "reg:squarederror":
        return 3.0 * s + 10.0
    if objective == "reg:logistic":
        return 1.0 / (1.0 + np.exp(-s))
    if objective == "count:poisson":
        return rng.poisson(np.exp(0.5 * s + 0.5)).astype(np.float64)
    if objective == "rank:pairwise":
        return np.clip(np.round(s + 1.5), 0, 3).astype(np.float64)
    raise ValueError(objective)


def signature(objective, num_class, margin):
    """(output name, shape) as the plugin declares them."""
    if margin:
        return "margin", [-1, num_class] if num_class > 1 else [-1]
    if objective == "multi:softprob":
        return "probabilities", [-1, num_class]
    if objective == "multi:softmax":
        return "label", [-1]
    if objective == "binary:logistic":
        return "probability", [-1]
    return "prediction", [-1]


def floats(a):
    """Flat float32 values as exact Python floats (NaN as None)."""
    out = []
    for v in np.asarray(a, dtype=np.float32).ravel():
        out.append(None if np.isnan(v) else float(v))
    return out


def write_json(path, obj):
    """One top-level key a line; a matrix one row a line."""
    def value(v):
        if isinstance(v, list) and v and isinstance(v[0], (list, dict)):
            return "[\n  " + ",\n  ".join(json.dumps(r) for r in v) + "\n ]"
        return json.dumps(v)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(f" {json.dumps(k)}: {value(v)}"
                                     for k, v in obj.items()) + "\n}\n")


def make_case(outdir, rng, name, objective, booster="gbtree",
              feature_names=None, extra_formats=(), missing_runs=False):
    x = features(rng, N_TRAIN)
    y = label_for(objective, rng, x)
    dtrain = xgb.DMatrix(x, label=y, feature_names=feature_names)
    params = {"objective": objective, "booster": booster, "seed": 0,
              "nthread": 1, "verbosity": 1}
    num_class = 0
    if objective.startswith("multi:"):
        num_class = 3
        params["num_class"] = num_class
    if objective == "rank:pairwise":
        dtrain.set_group([10] * (N_TRAIN // 10))
    if booster in ("gbtree", "dart"):
        params.update(max_depth=3, eta=0.3)
    if booster == "dart":
        # Dropout at training only; prediction weighs every tree.
        params.update(rate_drop=0.3, skip_drop=0.0, sample_type="uniform",
                      normalize_type="tree")
    if booster == "gblinear":
        params.update(eta=0.5, reg_lambda=0.1)
    bst = xgb.train(params, dtrain, ROUNDS)

    formats = ["json", "ubj", "bin"] + list(extra_formats)
    for fmt in formats:
        path = os.path.join(outdir, name, fmt, "1", FORMATS[fmt])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with warnings.catch_warnings():
            # 1.7 warns that the legacy binary format is deprecated.
            warnings.simplefilter("ignore")
            bst.save_model(path)

    xt = test_rows(rng)
    runs = []

    def run(run_name, load_params, missing=np.nan, **predict_args):
        dtest = xgb.DMatrix(xt, missing=missing, feature_names=feature_names)
        pred = bst.predict(dtest, **predict_args)
        out_name, shape = signature(objective, num_class,
                                    predict_args.get("output_margin", False))
        want = (N_TEST,) if len(shape) == 1 else (N_TEST, shape[1])
        if pred.shape != want:
            sys.exit(f"{name}/{run_name}: xgboost predicted shape "
                     f"{pred.shape}, the plugin declares {shape}")
        runs.append({"name": run_name, "params": load_params,
                     "output": {"name": out_name, "shape": shape,
                                "data": floats(pred)}})

    run("default", {})
    run("margin", {"output_margin": "true"}, output_margin=True)
    if booster != "gblinear":
        # gblinear has no iteration range: every round updates one set of
        # weights (XGBoost ignores the range there; the plugin refuses it).
        run("range", {"iteration_begin": "0", "iteration_end": "2"},
            iteration_range=(0, 2))
        run("range_margin", {"iteration_begin": "1", "iteration_end": "4",
                             "output_margin": "true"},
            iteration_range=(1, 4), output_margin=True)
    if missing_runs:
        run("missing0", {"missing": "0"}, missing=0.0)
        run("missing0_nthread2", {"missing": "0.0", "nthread": "2"},
            missing=0.0)

    case = {"case": name, "objective": objective, "booster": booster,
            "num_feature": N_FEATURES, "num_class": num_class,
            "rounds": bst.num_boosted_rounds(),
            "feature_names": feature_names, "formats": formats,
            "inputs": [floats(r) for r in xt], "runs": runs}
    write_json(os.path.join(outdir, name, "cases.json"), case)
    return name


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_xgb_models.py OUTDIR")
    outdir = sys.argv[1]
    rng = np.random.default_rng(SEED)
    names = [
        make_case(outdir, rng, "binary_logistic", "binary:logistic",
                  feature_names=["age", "income", "tenure", "score", "visits"],
                  missing_runs=True),
        make_case(outdir, rng, "multi_softprob", "multi:softprob"),
        make_case(outdir, rng, "multi_softmax", "multi:softmax"),
        make_case(outdir, rng, "reg_squarederror", "reg:squarederror",
                  extra_formats=["xgb"], missing_runs=True),
        make_case(outdir, rng, "reg_logistic", "reg:logistic"),
        make_case(outdir, rng, "count_poisson", "count:poisson"),
        make_case(outdir, rng, "rank_pairwise", "rank:pairwise"),
        make_case(outdir, rng, "dart_binary_logistic", "binary:logistic",
                  booster="dart"),
        make_case(outdir, rng, "dart_reg_squarederror", "reg:squarederror",
                  booster="dart"),
        make_case(outdir, rng, "gblinear_reg_squarederror",
                  "reg:squarederror", booster="gblinear", missing_runs=True),
    ]
    with open(os.path.join(outdir, "cases.txt"), "w", encoding="utf-8") as f:
        f.write("".join(n + "\n" for n in names))


if __name__ == "__main__":
    main()
