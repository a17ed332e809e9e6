#!/usr/bin/python3
"""Protocol conformance of corrald, checked with clients we did not write.

The transport is Debian's `nngcat` (nng-utils), one process per request;
messages are built and read with Debian's python3-msgpack. No corral code
runs on the client side, so this test catches the cases where corral's own
client and daemon agree with each other but not with the protocol.

Usage: conformance_test.py --corrald PATH --repo PATH [--nngcat PATH]

Starts corrald on a fresh config (ipc and tcp listeners), waits until it is
ready, runs the checks and always stops the daemon and removes its temp
dir. Prints one line per failed check, then "N passed, N failed". Exit code
0 only when no check failed.
"""
import argparse
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import json

try:
    import msgpack
except ImportError:  # pragma: no cover - environment problem
    sys.stderr.write("conformance_test.py: python3-msgpack is not installed "
                     "for %s\n" % sys.executable)
    sys.exit(1)

READY_TIMEOUT = 30.0
NNGCAT_RECV_TIMEOUT = 5       # seconds nngcat waits for a reply
BIG_BYTES = 100 * 2 ** 20      # a request over the default 64 MiB limit


# ------------------------------------------------------------- results ---

class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            line = "FAIL: " + name
            if detail:
                line += ": " + detail
            print(line.replace("\n", " "), flush=True)
        return bool(cond)


R = Results()


def short(obj, n=300):
    s = repr(obj)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


# ----------------------------------------------------------- transport ---

class Client:
    """One request, one nngcat process: request bytes in a file, raw reply
    bytes on stdout."""

    def __init__(self, nngcat, url, workdir, tag):
        self.nngcat = nngcat
        self.url = url
        self.path = os.path.join(workdir, "req-" + tag)
        self.tag = tag

    def send_raw(self, data):
        """Returns (reply bytes or None, description of what went wrong)."""
        with open(self.path, "wb") as f:
            f.write(data)
        try:
            p = subprocess.run(
                [self.nngcat, "--req", "--dial", self.url, "--file", self.path,
                 "--raw", "--recv-timeout", str(NNGCAT_RECV_TIMEOUT)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                timeout=NNGCAT_RECV_TIMEOUT + 15)
        except subprocess.TimeoutExpired:
            return None, "nngcat did not finish"
        finally:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        if not p.stdout:
            return None, "no reply (nngcat rc=%d, stderr=%r)" % (
                p.returncode, p.stderr.decode(errors="replace").strip()[:200])
        return p.stdout, ""

    def call(self, req):
        """req: a dict to pack, or bytes sent as they are. Returns
        (decoded reply or None, problem)."""
        data = req if isinstance(req, (bytes, bytearray)) else msgpack.packb(
            req, use_bin_type=True)
        raw, why = self.send_raw(bytes(data))
        if raw is None:
            return None, why
        try:
            reply = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except Exception as e:  # ExtraData, FormatError, ...
            return None, "reply is not one msgpack object (%s): %r" % (
                e.__class__.__name__, raw[:80])
        if not isinstance(reply, dict):
            return None, "reply is not a map: %s" % short(reply)
        return reply, ""


# ---------------------------------------------------------- model math ---

def load_model(repo, name, version):
    with open(os.path.join(repo, name, str(version), "model.json")) as f:
        return json.load(f)


def scores(model, row):
    return [sum(w * x for w, x in zip(wrow, row)) + b
            for wrow, b in zip(model["coefficients"], model["intercepts"])]


def softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = sum(e)
    return [v / s for v in e]


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def argmax(v):
    best = 0
    for i, x in enumerate(v):
        if x > v[best]:
            best = i
    return best


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


# --------------------------------------------------------- reply checks ---

def decode_tensor(t):
    """An output tensor {name, datatype, shape, data: bin} as
    (name, datatype, shape, values) or raises ValueError."""
    if not isinstance(t, dict):
        raise ValueError("tensor is not a map: %s" % short(t))
    for k in ("name", "datatype", "shape", "data"):
        if k not in t:
            raise ValueError("tensor lacks %r: %s" % (k, short(t)))
    dt, shape, data = t["datatype"], t["shape"], t["data"]
    if not isinstance(data, bytes):
        raise ValueError("tensor %r data is not bin" % t["name"])
    fmt = {"FP64": "d", "INT64": "q", "FP32": "f", "INT32": "i"}.get(dt)
    if fmt is None:
        raise ValueError("unexpected datatype %r" % dt)
    n = 1
    for d in shape:
        n *= d
    size = struct.calcsize(fmt)
    if len(data) != n * size:
        raise ValueError("tensor %r: %d bytes for shape %r %s" % (
            t["name"], len(data), shape, dt))
    return t["name"], dt, list(shape), list(struct.unpack("<%d%s" % (n, fmt), data))


def envelope_ok(name, reply, req_id=None, has_id=False):
    R.check(name + ": v is 1", reply.get("v") == 1 and type(reply.get("v")) is int,
            "v=%s" % short(reply.get("v")))
    if has_id:
        R.check(name + ": id echoed", "id" in reply and reply["id"] == req_id
                and type(reply["id"]) is type(req_id),
                "sent %s, got %s" % (short(req_id), short(reply.get("id", "<absent>"))))


def expect_error(cl, name, req, code, check_id=True):
    """One malformed or refused request: the reply is {v, [id], error:
    {code, message}} and carries no outputs."""
    name = "%s %s" % (cl.tag, name)
    if isinstance(req, dict) and check_id:
        req = dict(req)
        req.setdefault("id", "e-" + name)
    reply, why = cl.call(req)
    if not R.check(name + ": a reply", reply is not None, why):
        return None
    err = reply.get("error")
    got = err.get("code") if isinstance(err, dict) else None
    R.check(name + ": error code " + code, got == code,
            "got %s (reply %s)" % (short(got), short(reply)))
    msg = err.get("message") if isinstance(err, dict) else None
    R.check(name + ": error.message is a non-empty string",
            isinstance(msg, str) and msg != "", "message=%s" % short(msg))
    R.check(name + ": no outputs in an error reply", "outputs" not in reply,
            short(reply))
    envelope_ok(name, reply, req.get("id") if isinstance(req, dict) else None,
                has_id=isinstance(req, dict) and "id" in req)
    return reply


def still_answers(cl, after):
    reply, why = cl.call({"v": 1, "op": "health"})
    R.check("%s daemon still answers health after %s" % (cl.tag, after),
            reply is not None and reply.get("live") is True, why or short(reply))


def infer(cl, model, data, shape, datatype="FP64", **extra):
    req = {"v": 1, "op": "infer", "model": model,
           "inputs": [{"name": "input", "datatype": datatype, "shape": shape,
                       "data": data}]}
    req.update(extra)
    return cl.call(req)


def outputs_by_name(name, reply):
    """{output name: (datatype, shape, values)} or None (and a failure)."""
    outs = reply.get("outputs")
    if not R.check(name + ": outputs is an array", isinstance(outs, list),
                   short(reply)):
        return None
    res = {}
    for t in outs:
        try:
            n, dt, shape, vals = decode_tensor(t)
        except ValueError as e:
            R.check(name + ": output tensors well formed", False, str(e))
            return None
        res[n] = (dt, shape, vals)
    return res


def pack_rows(rows, fmt="d"):
    flat = [x for r in rows for x in r]
    return struct.pack("<%d%s" % (len(flat), fmt), *flat)


IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]


def check_softmax_reply(name, reply, model, rows, version, model_name="iris"):
    """Compare an iris reply with softmax(W x + b) computed here."""
    if "error" in reply:
        R.check(name + ": succeeds", False, short(reply))
        return
    R.check(name + ": no error", "error" not in reply)
    R.check(name + ": model_name", reply.get("model_name") == model_name,
            short(reply.get("model_name")))
    R.check(name + ": model_version %d" % version,
            reply.get("model_version") == version, short(reply.get("model_version")))
    outs = outputs_by_name(name, reply)
    if outs is None:
        return
    R.check(name + ": outputs are probabilities and label",
            sorted(outs) == ["label", "probabilities"], short(sorted(outs)))
    if "probabilities" not in outs or "label" not in outs:
        return
    pdt, pshape, probs = outs["probabilities"]
    ldt, lshape, labels = outs["label"]
    n, k = len(rows), len(model["intercepts"])
    R.check(name + ": probabilities FP64 [%d,%d]" % (n, k),
            pdt == "FP64" and pshape == [n, k], "%s %s" % (pdt, pshape))
    R.check(name + ": label INT64 [%d]" % n, ldt == "INT64" and lshape == [n],
            "%s %s" % (ldt, lshape))
    if pshape != [n, k] or lshape != [n]:
        return
    for i, row in enumerate(rows):
        got = probs[i * k:(i + 1) * k]
        want = softmax(scores(model, row))
        R.check(name + ": row %d probabilities sum to 1" % i,
                abs(sum(got) - 1.0) <= 1e-9, "sum=%r" % sum(got))
        R.check(name + ": row %d label is the argmax" % i,
                labels[i] == argmax(got), "label %r, probs %r" % (labels[i], got))
        R.check(name + ": row %d matches softmax(Wx+b) from model.json" % i,
                all(close(a, b) for a, b in zip(got, want)),
                "got %r, want %r" % (got, want))
        R.check(name + ": row %d label matches model.json" % i,
                labels[i] == argmax(want), "label %r, want %r" % (labels[i], argmax(want)))


# ---------------------------------------------------------------- checks ---

def check_health(cl):
    for label, rid in (("int", 42), ("string", "req-7"),
                       ("nested map", {"a": [1, 2, {"b": None, "c": True}],
                                       "s": "x", "f": 1.5, "n": -3}),
                       ("negative int", -1234567890123)):
        name = "%s health (id %s)" % (cl.tag, label)
        reply, why = cl.call({"v": 1, "op": "health", "id": rid})
        if not R.check(name + ": a reply", reply is not None, why):
            continue
        R.check(name + ": live true", reply.get("live") is True, short(reply))
        R.check(name + ": ready true", reply.get("ready") is True, short(reply))
        R.check(name + ": no error", "error" not in reply, short(reply))
        envelope_ok(name, reply, rid, has_id=True)
    name = "%s health (no id)" % cl.tag
    reply, why = cl.call({"v": 1, "op": "health"})
    if R.check(name + ": a reply", reply is not None, why):
        R.check(name + ": no id in the reply", "id" not in reply, short(reply))
        R.check(name + ": live and ready",
                reply.get("live") is True and reply.get("ready") is True, short(reply))
        envelope_ok(name, reply)


def check_models(cl):
    name = "%s models" % cl.tag
    reply, why = cl.call({"v": 1, "op": "models", "id": 3})
    if not R.check(name + ": a reply", reply is not None, why):
        return
    envelope_ok(name, reply, 3, has_id=True)
    models = reply.get("models")
    if not R.check(name + ": models is an array", isinstance(models, list),
                   short(reply)):
        return
    table = {}
    for m in models:
        if isinstance(m, dict):
            table[(m.get("name"), m.get("version"))] = m
    want = {("churn", 1): True, ("house_price", 1): True,
            ("iris", 1): False, ("iris", 2): True}
    # The example repository also holds models of other plugins; these
    # four linear ones are the ones this test knows. Each entry is listed
    # once.
    R.check(name + ": the linear example versions, each once",
            set(want) <= set(table) and len(models) == len(table),
            short(sorted(table)))
    for key, default in sorted(want.items()):
        m = table.get(key)
        label = "%s %s v%d" % (name, key[0], key[1])
        if not R.check(label + ": listed", m is not None):
            continue
        R.check(label + ": READY", m.get("state") == "READY", short(m))
        R.check(label + ": default %s" % default, m.get("default") is default,
                short(m))
        # A fresh daemon on a good repository: no worker has failed yet.
        R.check(label + ": no last_error (no worker failure since start)",
                "last_error" not in m, short(m))


def check_metadata(cl):
    name = "%s metadata iris" % cl.tag
    reply, why = cl.call({"v": 1, "op": "metadata", "model": "iris", "id": "m"})
    if R.check(name + ": a reply", reply is not None, why):
        envelope_ok(name, reply, "m", has_id=True)
        R.check(name + ": no error", "error" not in reply, short(reply))
        R.check(name + ": name iris", reply.get("name") == "iris", short(reply.get("name")))
        R.check(name + ": default version 2", reply.get("version") == 2,
                short(reply.get("version")))
        R.check(name + ": versions [1, 2]", sorted(reply.get("versions") or []) == [1, 2],
                short(reply.get("versions")))
        R.check(name + ": inputs", reply.get("inputs") ==
                [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}],
                short(reply.get("inputs")))
        outs = reply.get("outputs")
        names = sorted(o.get("name") for o in outs if isinstance(o, dict)) \
            if isinstance(outs, list) else None
        R.check(name + ": outputs probabilities and label",
                names == ["label", "probabilities"], short(outs))
        if isinstance(outs, list):
            specs = {o.get("name"): o for o in outs if isinstance(o, dict)}
            R.check(name + ": probabilities spec FP64 [-1, 3]",
                    specs.get("probabilities", {}).get("datatype") == "FP64" and
                    specs.get("probabilities", {}).get("shape") == [-1, 3],
                    short(specs.get("probabilities")))
            R.check(name + ": label spec INT64 [-1]",
                    specs.get("label", {}).get("datatype") == "INT64" and
                    specs.get("label", {}).get("shape") == [-1],
                    short(specs.get("label")))

    name = "%s metadata iris version 1" % cl.tag
    reply, why = cl.call({"v": 1, "op": "metadata", "model": "iris", "version": 1})
    if R.check(name + ": a reply", reply is not None, why):
        R.check(name + ": version 1", reply.get("version") == 1 and "error" not in reply,
                short(reply))
        R.check(name + ": inputs", reply.get("inputs") ==
                [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}],
                short(reply.get("inputs")))

    for model, feats, outnames in (("churn", 4, ["label", "probability"]),
                                   ("house_price", 3, ["prediction"])):
        name = "%s metadata %s" % (cl.tag, model)
        reply, why = cl.call({"v": 1, "op": "metadata", "model": model})
        if R.check(name + ": a reply", reply is not None, why):
            R.check(name + ": inputs", reply.get("inputs") ==
                    [{"name": "input", "datatype": "FP64", "shape": [-1, feats]}],
                    short(reply))
            outs = reply.get("outputs")
            R.check(name + ": outputs", isinstance(outs, list) and sorted(
                o.get("name") for o in outs if isinstance(o, dict)) == outnames,
                short(outs))

    expect_error(cl, "metadata unknown model", {"v": 1, "op": "metadata",
                                                "model": "nope"}, "MODEL_NOT_FOUND")
    expect_error(cl, "metadata missing model", {"v": 1, "op": "metadata"},
                 "INVALID_ARGUMENT")
    expect_error(cl, "metadata iris version 99", {"v": 1, "op": "metadata",
                                                  "model": "iris", "version": 99},
                 "VERSION_NOT_FOUND")
    still_answers(cl, "metadata")


def check_infer(cl, repo):
    iris2 = load_model(repo, "iris", 2)
    iris1 = load_model(repo, "iris", 1)
    churn = load_model(repo, "churn", 1)
    house = load_model(repo, "house_price", 1)
    t = cl.tag

    one = IRIS_ROWS[:1]
    two = IRIS_ROWS[:2]

    # FP64 bin, one row
    name = t + " infer iris FP64 bin [1,4]"
    reply, why = infer(cl, "iris", pack_rows(one), [1, 4], id=9)
    if R.check(name + ": a reply", reply is not None, why):
        envelope_ok(name, reply, 9, has_id=True)
        check_softmax_reply(name, reply, iris2, one, 2)

    # FP64 bin, three rows
    name = t + " infer iris FP64 bin [3,4]"
    reply, why = infer(cl, "iris", pack_rows(IRIS_ROWS), [3, 4])
    if R.check(name + ": a reply", reply is not None, why):
        check_softmax_reply(name, reply, iris2, IRIS_ROWS, 2)

    # FP32 bin: the values the daemon sees are the float32 roundings
    name = t + " infer iris FP32 bin [2,4]"
    reply, why = infer(cl, "iris", pack_rows(two, "f"), [2, 4], datatype="FP32")
    if R.check(name + ": a reply", reply is not None, why):
        check_softmax_reply(name, reply, iris2, [[f32(x) for x in r] for r in two], 2)

    # plain (flat) array
    name = t + " infer iris flat array [1,4]"
    reply, why = infer(cl, "iris", list(one[0]), [1, 4])
    if R.check(name + ": a reply", reply is not None, why):
        check_softmax_reply(name, reply, iris2, one, 2)

    # nested array for a batch of 2
    name = t + " infer iris nested array [2,4]"
    reply, why = infer(cl, "iris", [list(r) for r in two], [2, 4])
    if R.check(name + ": a reply", reply is not None, why):
        check_softmax_reply(name, reply, iris2, two, 2)

    # integers in an FP64 array are numbers too
    name = t + " infer iris integer array [1,4]"
    reply, why = infer(cl, "iris", [6, 3, 5, 2], [1, 4])
    if R.check(name + ": a reply", reply is not None, why):
        check_softmax_reply(name, reply, iris2, [[6.0, 3.0, 5.0, 2.0]], 2)

    # version 1 pinned
    name = t + " infer iris version 1"
    reply, why = infer(cl, "iris", pack_rows(two), [2, 4], version=1)
    if R.check(name + ": a reply", reply is not None, why):
        check_softmax_reply(name, reply, iris1, two, 1)

    # version 0 means the default
    name = t + " infer iris version 0 (default)"
    reply, why = infer(cl, "iris", pack_rows(one), [1, 4], version=0)
    if R.check(name + ": a reply", reply is not None, why):
        check_softmax_reply(name, reply, iris2, one, 2)

    # zero rows
    name = t + " infer iris [0,4]"
    reply, why = infer(cl, "iris", b"", [0, 4])
    if R.check(name + ": a reply", reply is not None, why):
        outs = outputs_by_name(name, reply) if "error" not in reply else None
        R.check(name + ": succeeds with empty outputs", outs is not None and
                outs.get("probabilities", (None, None))[1] == [0, 3] and
                outs.get("label", (None, None))[1] == [0], short(reply))

    # requested outputs: a name, or KServe's {name: ...}
    for label, outreq in (("[\"label\"]", ["label"]),
                          ("[{\"name\":\"label\"}]", [{"name": "label"}])):
        name = "%s infer iris outputs %s" % (t, label)
        reply, why = infer(cl, "iris", pack_rows(two), [2, 4], outputs=outreq)
        if not R.check(name + ": a reply", reply is not None, why):
            continue
        outs = outputs_by_name(name, reply) if "error" not in reply else None
        if not R.check(name + ": only label", outs is not None and list(outs) == ["label"],
                       short(reply)):
            continue
        dt, shape, vals = outs["label"]
        want = [argmax(softmax(scores(iris2, r))) for r in two]
        R.check(name + ": label values", dt == "INT64" and shape == [2] and vals == want,
                "%s %s %r, want %r" % (dt, shape, vals, want))

    name = t + " infer iris outputs [\"probabilities\",\"label\"] keeps the order"
    reply, why = infer(cl, "iris", pack_rows(one), [1, 4],
                       outputs=["probabilities", "label"])
    if R.check(name + ": a reply", reply is not None, why):
        outs = reply.get("outputs")
        R.check(name, isinstance(outs, list) and
                [o.get("name") for o in outs if isinstance(o, dict)] ==
                ["probabilities", "label"], short(reply))

    # churn: logit
    crow = [[12.0, 70.5, 3.0, 0.0], [48.0, 20.0, 0.0, 1.0]]
    name = t + " infer churn"
    reply, why = infer(cl, "churn", pack_rows(crow), [2, 4])
    if R.check(name + ": a reply", reply is not None, why):
        R.check(name + ": model_version 1", reply.get("model_version") == 1 and
                reply.get("model_name") == "churn", short(reply))
        outs = outputs_by_name(name, reply) if "error" not in reply else None
        if R.check(name + ": probability and label", outs is not None and
                   sorted(outs) == ["label", "probability"], short(reply)):
            pdt, pshape, p = outs["probability"]
            ldt, lshape, lab = outs["label"]
            z = [scores(churn, r)[0] for r in crow]
            R.check(name + ": probability FP64 [2,1]", pdt == "FP64" and pshape == [2, 1],
                    "%s %s" % (pdt, pshape))
            R.check(name + ": label INT64 [2]", ldt == "INT64" and lshape == [2],
                    "%s %s" % (ldt, lshape))
            R.check(name + ": probability matches sigmoid(Wx+b)",
                    len(p) == 2 and all(close(a, sigmoid(b)) for a, b in zip(p, z)),
                    "got %r, want %r" % (p, [sigmoid(v) for v in z]))
            R.check(name + ": label is (z > 0)",
                    lab == [1 if v > 0 else 0 for v in z], "got %r, z %r" % (lab, z))

    # house_price: identity
    hrow = [[1800.0, 4.0, 25.0], [950.0, 2.0, 60.0]]
    name = t + " infer house_price"
    reply, why = infer(cl, "house_price", pack_rows(hrow), [2, 3])
    if R.check(name + ": a reply", reply is not None, why):
        outs = outputs_by_name(name, reply) if "error" not in reply else None
        if R.check(name + ": prediction only", outs is not None and
                   list(outs) == ["prediction"], short(reply)):
            dt, shape, y = outs["prediction"]
            want = [scores(house, r)[0] for r in hrow]
            R.check(name + ": prediction FP64 [2,1]", dt == "FP64" and shape == [2, 1],
                    "%s %s" % (dt, shape))
            R.check(name + ": prediction matches Wx+b",
                    len(y) == 2 and all(close(a, b) for a, b in zip(y, want)),
                    "got %r, want %r" % (y, want))
            R.check(name + ": [1800,4,25] is about 299504 (docs)",
                    len(y) >= 1 and abs(y[0] - 299504) < 1, "got %r" % y[:1])

    # unknown extra fields are ignored
    name = t + " infer with unknown extra fields"
    req = {"v": 1, "op": "infer", "model": "iris", "id": [1, "x"],
           "x-trace": {"span": 12}, "future_field": [1, 2, 3], "priority": "high",
           "inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4],
                       "data": pack_rows(one), "extra": True}]}
    reply, why = cl.call(req)
    if R.check(name + ": a reply", reply is not None, why):
        envelope_ok(name, reply, [1, "x"], has_id=True)
        check_softmax_reply(name, reply, iris2, one, 2)

    name = t + " health with unknown extra fields"
    reply, why = cl.call({"v": 1, "op": "health", "zzz": 1, "nested": {"a": b"\x00"}})
    R.check(name, reply is not None and reply.get("live") is True, why or short(reply))

    # empty parameters map and nil optional fields are fine
    name = t + " infer with parameters {} and outputs nil"
    reply, why = infer(cl, "iris", pack_rows(one), [1, 4], parameters={}, outputs=None)
    if R.check(name + ": a reply", reply is not None, why):
        check_softmax_reply(name, reply, iris2, one, 2)


def valid_infer(**over):
    req = {"v": 1, "op": "infer", "model": "iris",
           "inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4],
                       "data": pack_rows(IRIS_ROWS[:1])}]}
    req.update(over)
    return req


def tensor(**over):
    t = {"name": "input", "datatype": "FP64", "shape": [1, 4],
         "data": pack_rows(IRIS_ROWS[:1])}
    for k, v in over.items():
        if v is DROP:
            t.pop(k, None)
        else:
            t[k] = v
    return t


DROP = object()


def with_tensor(**over):
    return valid_infer(inputs=[tensor(**over)])


def without(d, key):
    d = dict(d)
    d.pop(key)
    return d


def check_errors(cl):
    E = lambda name, req, code, **kw: expect_error(cl, name, req, code, **kw)

    # --- not a request at all
    good = msgpack.packb({"v": 1, "op": "health", "id": 1})
    E("empty message", b"", "MALFORMED")
    E("garbage bytes (0xc1)", b"\xc1\xc1\xc1\xc1", "MALFORMED")
    E("garbage text", b"hello, corral", "MALFORMED")
    E("truncated map", good[:-3], "MALFORMED")
    E("truncated map (header only)", b"\x83", "MALFORMED")
    E("map32 declaring 2^32-1 pairs", b"\xdf\xff\xff\xff\xff", "MALFORMED")
    E("msgpack array instead of a map", msgpack.packb([1, "health"]), "MALFORMED")
    E("msgpack string instead of a map", msgpack.packb("health"), "MALFORMED")
    E("trailing bytes after the map", good + b"\x00", "MALFORMED")
    E("two maps in one message", good + good, "MALFORMED")
    still_answers(cl, "undecodable messages")

    # --- envelope
    E("missing v", {"op": "health"}, "INVALID_ARGUMENT")
    E("v = \"1\"", {"v": "1", "op": "health"}, "INVALID_ARGUMENT")
    E("v = 1.0", {"v": 1.0, "op": "health"}, "INVALID_ARGUMENT")
    E("v = 2", {"v": 2, "op": "health"}, "UNSUPPORTED_VERSION")
    E("v = 0", {"v": 0, "op": "health"}, "UNSUPPORTED_VERSION")
    E("missing op", {"v": 1}, "INVALID_ARGUMENT")
    E("op = 5", {"v": 1, "op": 5}, "INVALID_ARGUMENT")
    E("unknown op", {"v": 1, "op": "reboot"}, "UNKNOWN_OP")
    E("op in the wrong case", {"v": 1, "op": "HEALTH"}, "UNKNOWN_OP")
    E("worker-only op describe", {"v": 1, "op": "describe"}, "UNKNOWN_OP")
    still_answers(cl, "envelope errors")

    # --- the prediction log's fields and the feedback op
    E("log = \"no\"", valid_infer(log="no"), "INVALID_ARGUMENT")
    E("log = 0 on health", {"v": 1, "op": "health", "log": 0}, "INVALID_ARGUMENT")
    E("feedback without prediction_id", {"v": 1, "op": "feedback", "truth": 1},
      "INVALID_ARGUMENT")
    E("feedback with prediction_id \"1\"",
      {"v": 1, "op": "feedback", "prediction_id": "1", "truth": 1}, "INVALID_ARGUMENT")
    E("feedback with prediction_id -3",
      {"v": 1, "op": "feedback", "prediction_id": -3, "truth": 1}, "INVALID_ARGUMENT")
    E("feedback without truth", {"v": 1, "op": "feedback", "prediction_id": 1},
      "INVALID_ARGUMENT")
    E("feedback with truth \"yes\"",
      {"v": 1, "op": "feedback", "prediction_id": 1, "truth": "yes"}, "INVALID_ARGUMENT")
    E("feedback with truth [1, nil]",
      {"v": 1, "op": "feedback", "prediction_id": 1, "truth": [1, None]},
      "INVALID_ARGUMENT")
    E("feedback with truth []",
      {"v": 1, "op": "feedback", "prediction_id": 1, "truth": []}, "INVALID_ARGUMENT")
    E("feedback for a prediction never logged",
      {"v": 1, "op": "feedback", "prediction_id": 2 ** 62, "truth": 1},
      "PREDICTION_NOT_FOUND")
    still_answers(cl, "prediction log and feedback errors")

    # --- model and version
    E("model = 7", valid_infer(model=7), "INVALID_ARGUMENT")
    E("unknown model", valid_infer(model="nope"), "MODEL_NOT_FOUND")
    E("version = -1", valid_infer(version=-1), "INVALID_ARGUMENT")
    E("version = \"2\"", valid_infer(version="2"), "INVALID_ARGUMENT")
    E("version = 1.5", valid_infer(version=1.5), "INVALID_ARGUMENT")
    E("version = 99", valid_infer(version=99), "VERSION_NOT_FOUND")
    still_answers(cl, "model/version errors")

    # --- inputs
    E("inputs not an array", valid_infer(inputs={"input": [1, 2, 3, 4]}),
      "INVALID_ARGUMENT")
    E("inputs missing", without(valid_infer(), "inputs"), "INVALID_ARGUMENT")
    E("inputs empty", valid_infer(inputs=[]), "INVALID_ARGUMENT")
    E("tensor not a map", valid_infer(inputs=[[5.1, 3.5, 1.4, 0.2]]), "INVALID_ARGUMENT")
    E("tensor missing name", with_tensor(name=DROP), "INVALID_ARGUMENT")
    E("tensor missing datatype", with_tensor(datatype=DROP), "INVALID_ARGUMENT")
    E("tensor missing shape", with_tensor(shape=DROP), "INVALID_ARGUMENT")
    E("tensor missing data", with_tensor(data=DROP), "INVALID_ARGUMENT")
    E("tensor data nil", with_tensor(data=None), "INVALID_ARGUMENT")
    E("tensor data a string", with_tensor(data="1,2,3,4"), "INVALID_ARGUMENT")
    E("datatype \"FLOAT\"", with_tensor(datatype="FLOAT"), "INVALID_ARGUMENT")
    E("datatype 11", with_tensor(datatype=11), "INVALID_ARGUMENT")
    E("shape with a negative dim", with_tensor(shape=[-1, 4]), "INVALID_ARGUMENT")
    E("shape with a string dim", with_tensor(shape=[1, "4"]), "INVALID_ARGUMENT")
    E("shape not an array", with_tensor(shape=4), "INVALID_ARGUMENT")
    E("shape with 9 dims", with_tensor(shape=[1, 4, 1, 1, 1, 1, 1, 1, 1]),
      "INVALID_ARGUMENT")
    still_answers(cl, "tensor structure errors")

    E("bin one byte short", with_tensor(data=pack_rows(IRIS_ROWS[:1])[:-1]),
      "SHAPE_MISMATCH")
    E("bin one byte long", with_tensor(data=pack_rows(IRIS_ROWS[:1]) + b"\x00"),
      "SHAPE_MISMATCH")
    E("array with 3 values for shape [1,4]", with_tensor(data=[5.1, 3.5, 1.4]),
      "SHAPE_MISMATCH")
    E("array with 8 values for shape [1,4]", with_tensor(data=[5.1, 3.5, 1.4, 0.2] * 2),
      "SHAPE_MISMATCH")
    E("a string inside FP64 data", with_tensor(data=[5.1, "3.5", 1.4, 0.2]),
      "TYPE_MISMATCH")
    E("nil inside FP64 data", with_tensor(data=[5.1, None, 1.4, 0.2]), "TYPE_MISMATCH")
    E("INT32 input to iris", with_tensor(datatype="INT32", data=[5, 3, 1, 0]),
      "TYPE_MISMATCH")
    E("INT32 bin input to iris", with_tensor(datatype="INT32",
                                             data=struct.pack("<4i", 5, 3, 1, 0)),
      "TYPE_MISMATCH")
    E("shape [1,3] for iris", with_tensor(shape=[1, 3], data=[5.1, 3.5, 1.4]),
      "FEATURE_COUNT_MISMATCH")
    E("shape [4] (rank 1) for iris", with_tensor(shape=[4]), "RANK_MISMATCH")
    E("wrong input name", with_tensor(name="features"), "INVALID_ARGUMENT")
    E("two inputs for a one-input model",
      valid_infer(inputs=[tensor(), tensor(name="other")]), "INVALID_ARGUMENT")
    E("NaN input", with_tensor(data=[5.1, float("nan"), 1.4, 0.2]), "INVALID_ARGUMENT")
    still_answers(cl, "tensor content errors")

    E("unknown requested output", valid_infer(outputs=["species"]), "INVALID_ARGUMENT")
    E("outputs entry that is an int", valid_infer(outputs=[1]), "INVALID_ARGUMENT")
    E("outputs entry {name: 1}", valid_infer(outputs=[{"name": 1}]), "INVALID_ARGUMENT")
    E("outputs not an array", valid_infer(outputs="label"), "INVALID_ARGUMENT")
    E("parameters not a map", valid_infer(parameters=[1, 2]), "INVALID_ARGUMENT")
    E("parameters a string", valid_infer(parameters="fast"), "INVALID_ARGUMENT")
    still_answers(cl, "outputs/parameters errors")

    # --- size limit: over the 64 MiB default, under nng's hard cap
    n = BIG_BYTES // 8
    big = valid_infer(inputs=[tensor(shape=[n // 4, 4], data=bytes(BIG_BYTES))])
    raw = msgpack.packb(dict(big, id="big"), use_bin_type=True)
    name = "100 MiB request (%d bytes)" % len(raw)
    E(name, raw, "PAYLOAD_TOO_LARGE", check_id=False)
    del raw, big
    name = cl.tag + " infer after the 100 MiB request"
    reply, why = infer(cl, "iris", pack_rows(IRIS_ROWS[:1]), [1, 4])
    if R.check(name + ": a reply", reply is not None, why):
        R.check(name + ": succeeds", "error" not in reply and
                isinstance(reply.get("outputs"), list), short(reply))
    still_answers(cl, "the 100 MiB request")


# ------------------------------------------------------------- daemon ---

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(cl, proc):
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no reply"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return "corrald exited with status %d before it was ready" % proc.returncode
        raw, why = cl.send_raw(msgpack.packb({"v": 1, "op": "health"}))
        if raw is not None:
            try:
                reply = msgpack.unpackb(raw, raw=False)
                if isinstance(reply, dict) and reply.get("ready") is True:
                    return None
                last = short(reply)
            except Exception as e:
                last = "undecodable health reply: %s" % e
        else:
            last = why
        time.sleep(0.1)
    return "not ready within %.0f s (last: %s)" % (READY_TIMEOUT, last)


def stop_daemon(proc):
    """SIGTERM, wait, SIGKILL (the daemon's own process group: it was
    started in a new session, so its workers go with it)."""
    if proc.poll() is not None:
        return proc.returncode, False
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15), False
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    return proc.wait(), True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corrald", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--nngcat", default=shutil.which("nngcat") or "/usr/bin/nngcat")
    args = ap.parse_args()
    repo = os.path.abspath(args.repo)
    if not os.access(args.nngcat, os.X_OK):
        print("nngcat not found (%s): install nng-utils" % args.nngcat)
        print("0 passed, 1 failed")
        return 1

    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="corral-cf.", dir="/tmp")
    proc = None
    log = None
    log_path = os.path.join(tmp, "corrald.log")
    try:
        ipc = "ipc://%s/corral.sock" % tmp
        tcp = "tcp://127.0.0.1:%d" % free_port()
        cfg = os.path.join(tmp, "corrald.yaml")
        with open(cfg, "w") as f:
            f.write("listen: [%s, %s]\n" % (ipc, tcp))
            f.write("model_repository: %s\n" % repo)
            f.write("runtime_dir: %s\n" % os.path.join(tmp, "run"))
            f.write("http_listen: http://127.0.0.1:%d\n" % free_port())
        log = open(log_path, "wb")
        proc = subprocess.Popen([args.corrald, "-c", cfg], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        clients = [Client(args.nngcat, ipc, tmp, "ipc"),
                   Client(args.nngcat, tcp, tmp, "tcp")]
        problem = wait_ready(clients[0], proc)
        if R.check("corrald becomes ready", problem is None, problem):
            for cl in clients:
                check_health(cl)
                check_models(cl)
                check_metadata(cl)
                check_infer(cl, repo)
                check_errors(cl)
            R.check("corrald still running after the checks", proc.poll() is None,
                    "exit status %s" % proc.returncode)
            check_models(Client(args.nngcat, ipc, tmp, "final"))
    except Exception as e:  # a bug in this test, or a reply it cannot handle
        import traceback
        traceback.print_exc(file=sys.stderr)
        R.check("the test ran to the end", False, "%s: %s" % (e.__class__.__name__, e))
    finally:
        if proc is not None:
            running = proc.poll() is None  # else a check above said so
            rc, killed = stop_daemon(proc)
            if running:
                R.check("corrald stops on SIGTERM with status 0",
                        rc == 0 and not killed,
                        "did not stop within 15 s: killed" if killed else "status %d" % rc)
        if log is not None:
            log.close()
        if R.failed and os.path.exists(log_path):
            with open(log_path, "rb") as f:
                tail = f.read().decode(errors="replace").splitlines()[-40:]
            sys.stderr.write("--- corrald log (last %d lines) ---\n" % len(tail))
            sys.stderr.write("\n".join(tail) + "\n")
        shutil.rmtree(tmp, ignore_errors=True)
    sys.stderr.write("conformance: %.1f s\n" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (R.passed, R.failed), flush=True)
    return 0 if R.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
