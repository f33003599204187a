#!/usr/bin/env python3
"""Runs the real pycocotools on the parity cases and writes what the C++ port must reproduce.

For each case NAME in OUT/:
  NAME.gt.json, NAME.dt.json, NAME.params.json   the inputs (params: Params overrides)
  NAME.expect.json   {"error": null or "<exception>", "stats": [12 hex floats],
                      "summary": "<the 12 printed lines>", "shape": [T, R, K, A, M]}
  NAME.precision.f64, NAME.recall.f64, NAME.scores.f64   accumulate()'s arrays, C order,
                      little-endian float64
and OUT/manifest.json lists the cases with the Python, NumPy and pycocotools versions (the
NumPy version decides how np.mean sums: src/eval/README.md, "NumPy's summation order").

Exits non-zero with a clear message when pycocotools or NumPy cannot be imported: the parity
test must fail, not skip, without its oracle.
"""

import argparse
import contextlib
import copy
import io
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coco_parity_cases  # noqa: E402

try:
    import numpy as np
    import pycocotools
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
except ImportError as e:
    sys.exit("pycocotools_oracle: cannot import the oracle (%s); install the pinned versions: "
             "python3 -m pip install -r scripts/requirements-test.txt" % e)


def pycocotools_version():
    try:
        from importlib.metadata import version
        return version("pycocotools")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return getattr(pycocotools, "__version__", "unknown")


def run_pycocotools(gt_data, dt_list, params):
    """Returns (stats, summary text, eval dict) or raises what pycocotools raises."""
    gt_data = copy.deepcopy(gt_data)
    gt_data.setdefault("info", {})  # older pycocotools' loadRes reads it
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        coco_gt = COCO()
        coco_gt.dataset = gt_data
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dt_list))
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        for key, value in params.items():
            if key in ("iouThrs", "recThrs"):
                value = np.array(value, dtype=np.float64)
            setattr(ev.params, key, value)
        ev.evaluate()
        ev.accumulate()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ev.summarize()
    return ev.stats, printed.getvalue(), ev.eval


def write_case(out_dir, c):
    name = c["name"]
    paths = {k: os.path.join(out_dir, "%s.%s" % (name, k)) for k in
             ("gt.json", "dt.json", "params.json", "expect.json", "precision.f64",
              "recall.f64", "scores.f64")}
    gt_text = c["gt_text"] if c["gt_text"] is not None else json.dumps(c["gt"])
    dt_text = c["dt_text"] if c["dt_text"] is not None else json.dumps(c["dt"])
    with open(paths["gt.json"], "w") as f:
        f.write(gt_text)
    with open(paths["dt.json"], "w") as f:
        f.write(dt_text)
    with open(paths["params.json"], "w") as f:
        json.dump(c["params"], f)
    expect = {"error": None}
    try:
        # As pycocotools reads files: json.load of the text.
        stats, summary, ev = run_pycocotools(json.loads(gt_text), json.loads(dt_text), c["params"])
    except Exception as e:  # what pycocotools raises is the expected outcome
        if not c["expect_error"]:
            raise RuntimeError("case %s: pycocotools raised unexpectedly: %r" % (name, e))
        expect["error"] = "%s: %s" % (type(e).__name__, e)
    else:
        if c["expect_error"]:
            raise RuntimeError("case %s: pycocotools did not raise" % name)
        expect["stats"] = [float(s).hex() for s in stats]
        expect["summary"] = summary
        expect["shape"] = list(ev["precision"].shape)
        for key in ("precision", "recall", "scores"):
            with open(paths[key + ".f64"], "wb") as f:
                f.write(np.ascontiguousarray(ev[key], dtype="<f8").tobytes())
    with open(paths["expect.json"], "w") as f:
        json.dump(expect, f)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--families", default="", help="comma-separated families (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fuzz-count", type=int, default=400)
    ap.add_argument("--mini-annotations",
                    default=os.path.join(here, "..", "..", "tests", "eval", "data", "instances_val2017_mini.json"),
                    help="the real COCO val2017 annotations used by the 'realistic' family")
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f]
    os.makedirs(args.out, exist_ok=True)
    cases = coco_parity_cases.generate(families, args.seed, args.mini_annotations, args.fuzz_count)
    for c in cases:
        write_case(args.out, c)
    manifest = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pycocotools": pycocotools_version(),
        "platform": platform.platform(),
        "seed": args.seed,
        "cases": [c["name"] for c in cases],
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("pycocotools_oracle: %d cases, pycocotools %s, numpy %s -> %s" % (
        len(cases), manifest["pycocotools"], manifest["numpy"], args.out))


if __name__ == "__main__":
    main()
