#!/usr/bin/env python3
"""Train the example XGBoost model of the bundled repository, loan_default.

Usage: gen_example_model.py [OUTDIR]

Writes OUTDIR/model.json (default: configs/models/loan_default/1 of this
source tree): a binary:logistic booster, the probability that a loan
defaults, from five features of the applicant, trained on synthetic data.

  income_k        yearly income, thousands (lognormal, median about 55)
  debt_to_income  monthly debt payments / monthly income (0 to about 0.9)
  credit_years    length of credit history, years (0 to 40)
  late_payments   payments more than 30 days late in the last two years
  open_accounts   open credit accounts (1 to 20)

The labels follow a hidden logistic score of those features plus noise
(more debt and late payments: more defaults; more income and history:
fewer). 15 boosting rounds of depth-3 trees, 2000 training rows.

Deterministic: a fixed seed, one thread, the exact tree method. Run it
with Debian's python3-xgboost (XGBoost 1.7) and python3-numpy; with the
same XGBoost version it writes the same file byte for byte. Prints the
training accuracy and the predictions for a few example applicants (the
rows of the README's example).
"""

import os
import sys

import numpy as np
import xgboost as xgb

SEED = 20240613
N_TRAIN = 2000
ROUNDS = 15
FEATURES = ["income_k", "debt_to_income", "credit_years", "late_payments",
            "open_accounts"]

# Example applicants: [income_k, debt_to_income, credit_years,
# late_payments, open_accounts].
EXAMPLES = [
    [85.0, 0.15, 12.0, 0.0, 5.0],   # comfortable, clean history
    [32.0, 0.55, 2.0, 3.0, 9.0],    # stretched, several late payments
    [54.0, 0.35, 6.0, 1.0, 4.0],    # in between
]


def applicants(rng, n):
    """n rows of plausible applicant features, float32."""
    income = rng.lognormal(mean=np.log(55.0), sigma=0.45, size=n)
    dti = np.clip(rng.beta(2.0, 5.0, size=n) * 1.1, 0.0, 0.9)
    years = np.clip(rng.gamma(2.0, 4.5, size=n), 0.0, 40.0)
    late = rng.poisson(0.2 + 1.5 * dti, size=n).astype(np.float64)
    accounts = np.clip(rng.poisson(5.0, size=n) + 1, 1, 20).astype(np.float64)
    x = np.column_stack([income, dti, years, late, accounts])
    return np.round(x, 2).astype(np.float32)


def default_probability(x):
    """The hidden truth the labels are drawn from."""
    x = x.astype(np.float64)
    z = (-1.6 - 0.9 * np.log(x[:, 0] / 55.0) + 5.0 * (x[:, 1] - 0.3)
         - 0.06 * x[:, 2] + 0.7 * x[:, 3] + 0.05 * np.maximum(x[:, 4] - 8, 0))
    return 1.0 / (1.0 + np.exp(-z))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "configs", "models",
                               "loan_default", "1")
    out = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else default_out)
    os.makedirs(out, exist_ok=True)

    rng = np.random.default_rng(SEED)
    x = applicants(rng, N_TRAIN)
    y = (rng.random(N_TRAIN) < default_probability(x)).astype(np.float32)

    dtrain = xgb.DMatrix(x, label=y, feature_names=FEATURES)
    params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "max_depth": 3,
        "eta": 0.3,
        "min_child_weight": 5,
        "tree_method": "exact",
        "nthread": 1,
        "seed": SEED,
    }
    booster = xgb.train(params, dtrain, num_boost_round=ROUNDS)
    path = os.path.join(out, "model.json")
    booster.save_model(path)

    p = booster.predict(dtrain)
    accuracy = float(np.mean((p > 0.5) == (y > 0.5)))
    print(f"{path}: {os.path.getsize(path)} bytes, {ROUNDS} trees, "
          f"default rate {y.mean():.3f}, training accuracy {accuracy:.3f}")
    ex = np.array(EXAMPLES, dtype=np.float32)
    for row, prob in zip(EXAMPLES, booster.predict(
            xgb.DMatrix(ex, feature_names=FEATURES))):
        print(f"  {row} -> P(default) = {prob:.6f}")


if __name__ == "__main__":
    main()
