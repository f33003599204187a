#!/usr/bin/env python3
"""COCO bbox evaluation speed: `trainer coco-eval` against pycocotools and faster-coco-eval.

Two COCO-val2017-shaped synthetic inputs (5,000 images, 80 categories, ~36k GT with COCO-like
sizes, mask-like `area` fields and ~1% crowd):
  dense   100 detections per image (500,000), as a detector's top-100 output
  sparse  ~37,000 detections (about one per object plus background)
Each tool runs end to end from the JSON files (load GT, loadRes, evaluate, accumulate,
summarize); the Python peers are timed inside their process (imports excluded), trainer as a
whole process. The tools take turns (bench_env's method: trainer, faster-coco-eval, pycocotools,
then again), each timed --repeat times per turn (pycocotools --reference-repeat times: it takes
~2 min per run on the dense input and is 100x slower, far beyond any drift), and the table gives
medians with min and max and the ratios of the medians. The script checks that trainer's 12
stats equal pycocotools' bit for bit and reports whether faster-coco-eval's do.

Peers are not test dependencies: bench_env installs them into .venv-bench at the versions pinned
in requirements-bench.txt (pycocotools 2.0.11, NumPy 2.4.6, faster-coco-eval 1.8.0). trainer is
built in build/ unless --trainer names another one.

  scripts/bench/coco_eval_bench.py [--trainer CMD] [--repeat 10] [--reference-repeat 1]
"""

import argparse
import json
import math
import os
import random
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_env  # noqa: E402

bench_env.ensure_peers(["pycocotools", "numpy", "faster-coco-eval"])

COCO_CATEGORY_IDS = [c for c in range(1, 91)
                     if c not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def make_ground_truth(rng, n_images=5000, objects_per_image=7.3):
    # COCO-like sparse image ids; object sizes so that about 41% are small, 34% medium and
    # 25% large; the mask `area` smaller than the box, as COCO's polygons are.
    image_ids = sorted(rng.sample(range(1, 581930), n_images))
    images = [{"id": i, "width": 640, "height": 480, "file_name": "%012d.jpg" % i} for i in image_ids]
    cats = [{"id": c, "name": "class%d" % c, "supercategory": "thing"} for c in COCO_CATEGORY_IDS]
    anns = []
    for img in image_ids:
        n = max(0, int(rng.expovariate(1 / objects_per_image) + 0.5))
        for _ in range(min(n, 60)):
            side = math.exp(rng.gauss(3.8, 1.1))
            aspect = math.exp(rng.gauss(0, 0.5))
            w = min(639.0, max(1.0, side * aspect))
            h = min(479.0, max(1.0, side / aspect))
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            anns.append({"id": len(anns) + 1, "image_id": img,
                         "category_id": rng.choice(COCO_CATEGORY_IDS),
                         "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
                         "area": round(w * h * rng.uniform(0.45, 0.95), 4),
                         "iscrowd": 1 if rng.random() < 0.01 else 0,
                         "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    return {"info": {}, "images": images, "categories": cats, "annotations": anns}


def make_detections(rng, gt, per_image):
    """`per_image` detections per image: jittered objects (some with the wrong class), the
    rest background boxes; scores and boxes with the digits a detector's JSON dump has."""
    by_image = {}
    for a in gt["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    dets = []
    for img in gt["images"]:
        objects = by_image.get(img["id"], [])
        count = per_image if isinstance(per_image, int) else \
            len(objects) + (1 if rng.random() < per_image % 1 else 0)
        for k in range(count):
            if objects and k < 3 * len(objects) and rng.random() < 0.8:
                a = objects[k % len(objects)]
                x, y, w, h = a["bbox"]
                q = rng.choice([0.03, 0.08, 0.15, 0.3])
                box = [x + rng.gauss(0, q * w), y + rng.gauss(0, q * h),
                       max(0.5, w * (1 + rng.gauss(0, q))), max(0.5, h * (1 + rng.gauss(0, q)))]
                cat = a["category_id"] if rng.random() < 0.85 else rng.choice(COCO_CATEGORY_IDS)
                score = min(1.0, max(0.0, 0.95 - 2 * q + rng.gauss(0, 0.1)))
            else:
                w, h = math.exp(rng.gauss(3.5, 1.0)), math.exp(rng.gauss(3.5, 1.0))
                box = [rng.uniform(0, 600), rng.uniform(0, 440), min(w, 640), min(h, 480)]
                cat = rng.choice(COCO_CATEGORY_IDS)
                score = rng.random() * 0.5
            dets.append({"image_id": img["id"], "category_id": cat,
                         "bbox": [round(v, 2) for v in box], "score": round(score, 5)})
    return dets


def prepare(work, seed):
    paths = {name: os.path.join(work, name) for name in
             ("gt.json", "dense.json", "sparse.json")}
    stamp = os.path.join(work, "seed")
    if all(os.path.exists(p) for p in paths.values()) and os.path.exists(stamp) and \
            open(stamp).read() == str(seed):
        return paths
    os.makedirs(work, exist_ok=True)
    rng = random.Random(seed)
    gt = make_ground_truth(rng)
    with open(paths["gt.json"], "w") as f:
        json.dump(gt, f)
    for name, per_image in (("dense.json", 100), ("sparse.json", 0.4)):
        dets = make_detections(rng, gt, per_image)
        with open(paths[name], "w") as f:
            json.dump(dets, f)
    with open(stamp, "w") as f:
        f.write(str(seed))
    return paths


def time_pycocotools(gt_path, dt_path):
    import contextlib
    import io
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(dt_path)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return time.perf_counter() - start, list(ev.stats)


def time_faster_coco_eval(gt_path, dt_path):
    import contextlib
    import io
    from faster_coco_eval import COCO, COCOeval_faster
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(dt_path)
        ev = COCOeval_faster(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return time.perf_counter() - start, list(ev.stats)[:12]


def time_trainer(trainer, gt_path, dt_path, work):
    stats_path = os.path.join(work, "trainer-stats.json")
    command = shlex.split(trainer) + ["coco-eval", "--annotations", gt_path,
                                      "--detections", dt_path, "--stats-json", stats_path]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        sys.exit("trainer coco-eval failed: %s" % done.stderr.strip())
    with open(stats_path) as f:
        return elapsed, json.load(f)["stats"]


def main():
    tmp = os.environ.get("TMPDIR", "/tmp")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trainer", help="the trainer executable (a command line; 'coco-eval ...' is "
                    "appended); default: build/trainer, built first")
    ap.add_argument("--work", default=os.path.join(tmp, "trainer-coco-bench"),
                    help="where the generated inputs are kept (reused for the same seed)")
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--repeat", type=int, default=bench_env.MIN_STEPS,
                    help="timed runs per round of trainer and faster-coco-eval")
    ap.add_argument("--reference-repeat", type=int, default=1,
                    help="timed runs per round of pycocotools (~2 min each on the dense input)")
    args = ap.parse_args()
    if args.trainer is None:
        args.trainer = os.path.join(bench_env.build(["trainer"]), "trainer")
    if not os.path.exists(shlex.split(args.trainer)[0]):
        sys.exit("no trainer at %s" % args.trainer)

    paths = prepare(args.work, args.seed)
    with open(paths["gt.json"]) as f:
        gt = json.load(f)
    print("machine: %s" % bench_env.machine())
    print("ground truth: %d images, %d categories, %d annotations; each tool run %d times in alternation, "
          "%d timed runs per round (pycocotools %d)" % (
              len(gt["images"]), len(gt["categories"]), len(gt["annotations"]), bench_env.ROUNDS, args.repeat,
              args.reference_repeat))
    rows = []
    for case in ("dense", "sparse"):
        dt_path = paths[case + ".json"]
        with open(dt_path) as f:
            n_dets = len(json.load(f))
        stats = {}

        def turn(name, repeat, run):
            """One turn of a tool: `repeat` timed runs; keeps its latest 12 stats."""
            def timed():
                seconds = []
                for _ in range(repeat):
                    elapsed, stats[name] = run()
                    seconds.append(elapsed)
                return {"seconds": seconds}
            return name, timed

        # The method of bench_env: the tools take turns, their times are pooled over the rounds.
        print("bench: %s input" % case, file=sys.stderr, flush=True)
        times = bench_env.alternate([
            turn("trainer", args.repeat, lambda: time_trainer(args.trainer, paths["gt.json"], dt_path, args.work)),
            turn("faster-coco-eval", args.repeat, lambda: time_faster_coco_eval(paths["gt.json"], dt_path)),
            turn("pycocotools", args.reference_repeat, lambda: time_pycocotools(paths["gt.json"], dt_path)),
        ])
        ours, fce, ref = (bench_env.spread(times[name]["seconds"])
                          for name in ("trainer", "faster-coco-eval", "pycocotools"))
        identical = [float(a).hex() for a in stats["trainer"]] == [float(b).hex() for b in stats["pycocotools"]]
        fce_equal = sum(float(a).hex() == float(b).hex() for a, b in zip(stats["faster-coco-eval"], stats["pycocotools"]))
        rows.append((case, n_dets, ours, fce, ref, identical))
        print("%-6s %7d dets, seconds as median [min-max]: trainer %.3f [%.3f-%.3f], faster-coco-eval %.2f "
              "[%.2f-%.2f], pycocotools %.2f [%.2f-%.2f]; trainer stats identical to pycocotools: %s; "
              "faster-coco-eval: %d/12 identical" % ((case, n_dets) + ours + fce + ref + (identical, fce_equal)),
              flush=True)
        if not identical:
            print("  trainer:     %s\n  pycocotools: %s" % (stats["trainer"], stats["pycocotools"]))
    print("\n| input | detections | trainer | faster-coco-eval | pycocotools | vs pycocotools | vs faster-coco-eval |")
    print("|---|---|---|---|---|---|---|")
    for case, n_dets, ours, fce, ref, identical in rows:
        print("| %s | %d | %.3f s | %.2f s | %.2f s | %.0fx | %.1fx |" % (
            case, n_dets, ours[0], fce[0], ref[0], ref[0] / ours[0], fce[0] / ours[0]))
    print("(medians over all timed runs; ratios of the medians)")
    if not all(r[5] for r in rows):
        sys.exit("trainer's stats differ from pycocotools'")

if __name__ == "__main__":
    main()
