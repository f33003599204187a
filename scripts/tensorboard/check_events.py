#!/usr/bin/env python3
"""Reads trainer's TensorBoard events files with TensorBoard's own reader and checks them against
the run's --log-json file (the CLI test's oracle, src/cli/README.md).

  LOGDIR/train: exactly the numbers of the LOG records, tag = JSON key, at the record's step,
                equal as float32 (TensorBoard's simple_value).
  LOGDIR/eval:  the numbers of the METRIC record holding --eval-key, all at --eval-step; and
                --images pictures tagged detections/<k> at that step, PNGs that decode to the
                size their Summary.Image says and to one of the sizes in --coco-json's images.

Exits non-zero with the first difference found. Needs the tensorboard package (and Pillow,
which tensorboard requires) from scripts/requirements-test.txt.
"""

import argparse
import io
import json
import os
import sys

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator


def load_run(path):
    if not os.path.isdir(path):
        sys.exit(f"no TensorBoard run folder {path}")
    acc = event_accumulator.EventAccumulator(
        path, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
    acc.Reload()
    return acc


def numbers(data):
    return {k: v for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def same_float32(a, b):
    a, b = np.float32(a), np.float32(b)
    return a == b or (np.isnan(a) and np.isnan(b))


def scalars_of(acc):
    """{(tag, step): value} of every scalar event in a run; a repeated (tag, step) is an error."""
    out = {}
    for tag in acc.Tags()[event_accumulator.SCALARS]:
        for e in acc.Scalars(tag):
            if (tag, e.step) in out:
                sys.exit(f"{tag} at step {e.step} written twice")
            out[(tag, e.step)] = e.value
    return out


def compare(kind, expected, found):
    if set(expected) != set(found):
        missing = sorted(set(expected) - set(found))[:5]
        extra = sorted(set(found) - set(expected))[:5]
        sys.exit(f"{kind}: tags/steps differ from the JSON log; missing {missing}, unexpected {extra}")
    for key, value in expected.items():
        if not same_float32(value, found[key]):
            sys.exit(f"{kind}: {key[0]} at step {key[1]}: JSON {value!r}, events {found[key]!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logdir", required=True)
    ap.add_argument("--log-json", required=True)
    ap.add_argument("--eval-key", required=True, help="a key of the evaluation's METRIC record, e.g. coco.AP")
    ap.add_argument("--eval-step", type=int, required=True)
    ap.add_argument("--images", type=int, default=0)
    ap.add_argument("--coco-json", help="the eval images' COCO annotations (their sizes)")
    args = ap.parse_args()

    with open(args.log_json) as f:
        records = [json.loads(line) for line in f if line.strip()]
    train_expected = {}
    for r in records:
        if r["type"] == "LOG":
            for k, v in numbers(r["data"]).items():
                train_expected[(k, r["step"])] = v
    evals = [r["data"] for r in records if r["type"] == "METRIC" and args.eval_key in r["data"]]
    if len(evals) != 1:
        sys.exit(f"{len(evals)} METRIC records hold {args.eval_key}; expected 1")
    eval_expected = {(k, args.eval_step): v for k, v in numbers(evals[0]).items()}

    train = load_run(os.path.join(args.logdir, "train"))
    compare("train", train_expected, scalars_of(train))
    evaluation = load_run(os.path.join(args.logdir, "eval"))
    compare("eval", eval_expected, scalars_of(evaluation))

    tags = sorted(evaluation.Tags()[event_accumulator.IMAGES])
    wanted = [f"detections/{k}" for k in range(args.images)]
    if tags != sorted(wanted):
        sys.exit(f"eval images: tags {tags}, expected {wanted}")
    sizes = None
    if args.coco_json:
        with open(args.coco_json) as f:
            sizes = {(i["width"], i["height"]) for i in json.load(f)["images"]}
    for tag in wanted:
        events = evaluation.Images(tag)
        if [e.step for e in events] != [args.eval_step]:
            sys.exit(f"{tag}: steps {[e.step for e in events]}, expected [{args.eval_step}]")
        e = events[0]
        picture = Image.open(io.BytesIO(e.encoded_image_string))
        if picture.format != "PNG":
            sys.exit(f"{tag}: a {picture.format}, expected a PNG")
        picture.load()  # decodes every pixel: a truncated PNG fails here
        if picture.size != (e.width, e.height):
            sys.exit(f"{tag}: decodes to {picture.size}, the event says {(e.width, e.height)}")
        if sizes is not None and picture.size not in sizes:
            sys.exit(f"{tag}: {picture.size} is the size of no eval image ({sorted(sizes)})")
    print(f"ok: {len(train_expected)} training scalars, {len(eval_expected)} eval scalars, {len(wanted)} images")


if __name__ == "__main__":
    main()
