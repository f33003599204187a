"""Adversarial and realistic COCO bbox evaluation cases for the pycocotools parity suite.

Each case is a dict:
  name        unique, "<family>_<n>"
  gt          instances dict (images, categories, annotations), or None when gt_text is given
  dt          results list, or None when dt_text is given
  gt_text / dt_text   raw JSON text, for cases about number syntax
  params      overrides of pycocotools' Params (imgIds, catIds, maxDets, areaRng, areaRngLbl,
              useCats, iouThrs, recThrs)
  expect_error  True when pycocotools must raise (the port must then fail too)

Families: see src/eval/README.md, "Parity tests". Everything is seeded: the same seed
gives the same cases. Only the standard library is used, so the generator runs anywhere.
"""

import json
import math
import random

FAMILIES = [
    "ties", "duplicates", "over100", "crowd", "area", "geometry", "iou_thresholds",
    "equal_iou", "recall_thresholds", "epsilon", "missing", "identity", "summation",
    "numbers", "params", "fuzz", "realistic", "odd_boxes",
]


# ---------------------------------------------------------------------------- builders

def dataset(image_ids, cat_ids, anns, shuffle_images=None):
    images = [{"id": i, "width": 640, "height": 480, "file_name": "%d.jpg" % i}
              for i in image_ids]
    if shuffle_images is not None:
        shuffle_images.shuffle(images)
    cats = [{"id": c, "name": "c%d" % c, "supercategory": "s%d" % (c % 3)} for c in cat_ids]
    return {"images": images, "categories": cats, "annotations": anns}


def gt(ann_id, image_id, cat_id, box, area=None, iscrowd=0, **extra):
    a = {"id": ann_id, "image_id": image_id, "category_id": cat_id, "bbox": list(box),
         "area": box[2] * box[3] if area is None else area, "iscrowd": iscrowd}
    a.update(extra)
    return a


def det(image_id, cat_id, box, score):
    return {"image_id": image_id, "category_id": cat_id, "bbox": list(box), "score": score}


def case(name, gt_data, dt, params=None, **kw):
    c = {"name": name, "gt": gt_data, "dt": dt, "params": params or {},
         "gt_text": None, "dt_text": None, "expect_error": False}
    c.update(kw)
    return c


def rand_box(rng, size=640.0, min_wh=2.0, max_wh=200.0, digits=None):
    w = rng.uniform(min_wh, max_wh)
    h = rng.uniform(min_wh, max_wh)
    box = [rng.uniform(0, size - w), rng.uniform(0, size - h), w, h]
    if digits is not None:
        box = [round(v, digits) for v in box]
    return box


def jitter(rng, box, amount):
    x, y, w, h = box
    return [x + rng.gauss(0, amount * w), y + rng.gauss(0, amount * h),
            max(0.0, w * (1 + rng.gauss(0, amount))), max(0.0, h * (1 + rng.gauss(0, amount)))]


def bbox_iou(d, g, crowd):
    """maskApi.c bbIou, operation for operation (Python floats are IEEE doubles)."""
    ga = g[2] * g[3]
    da = d[2] * d[3]
    w = min(d[2] + d[0], g[2] + g[0]) - max(d[0], g[0])
    if w <= 0:
        return 0.0
    h = min(d[3] + d[1], g[3] + g[1]) - max(d[1], g[1])
    if h <= 0:
        return 0.0
    i = w * h
    u = da if crowd else da + ga - i
    return i / u


def random_scene(rng, n_images, cat_ids, gts_per_image, dets_per_gt=1.0, fp_per_image=2,
                 score_digits=None, crowd_rate=0.0, image_ids=None, jitter_amount=0.08,
                 box_digits=None, area_noise=0.0):
    """A detector-like scene: jittered copies of GTs (some class-confused), background FPs."""
    image_ids = image_ids or list(range(1, n_images + 1))
    anns, dets = [], []
    for img in image_ids:
        for _ in range(rng.randint(0, gts_per_image)):
            box = rand_box(rng, digits=box_digits)
            crowd = 1 if rng.random() < crowd_rate else 0
            area = box[2] * box[3]
            if area_noise:
                area *= rng.uniform(1 - area_noise, 1)
            cat = rng.choice(cat_ids)
            anns.append(gt(len(anns) + 1, img, cat, box, area=area, iscrowd=crowd))
            n = int(dets_per_gt) + (1 if rng.random() < dets_per_gt % 1 else 0)
            for _ in range(n):
                dcat = cat if rng.random() < 0.9 else rng.choice(cat_ids)
                score = rng.random()
                if score_digits is not None:
                    score = round(score, score_digits)
                dets.append(det(img, dcat, jitter(rng, box, jitter_amount), score))
        for _ in range(fp_per_image):
            score = rng.random() * 0.6
            if score_digits is not None:
                score = round(score, score_digits)
            dets.append(det(img, rng.choice(cat_ids), rand_box(rng, digits=box_digits), score))
    rng.shuffle(dets)
    return anns, dets


# ---------------------------------------------------------------------------- families

def fam_ties(rng):
    out = []
    for n in range(6):
        # Large, non-contiguous image ids listed out of order: cross-image ties are broken
        # by ascending image id, not by file order.
        ids = rng.sample(range(10 ** 6, 10 ** 7), 8)
        cats = [3, 7, 11]
        digits = [1, 1, 2, 3, 0, 1][n]
        anns, dets = random_scene(rng, 0, cats, 6, dets_per_gt=1.5, fp_per_image=4,
                                  score_digits=digits, image_ids=ids)
        if n == 4:
            for d in dets:
                d["score"] = 0.5
        out.append(case("ties_%d" % n, dataset(ids, cats, anns, rng), dets))
    # Ties straddling rank 100 in one cell: which tied detections survive the cut is file order.
    anns = [gt(i + 1, 1, 1, [i * 20.0, 0, 18, 18]) for i in range(30)]
    dets = []
    for i in range(140):
        g = anns[rng.randrange(30)]["bbox"] if rng.random() < 0.4 else rand_box(rng)
        dets.append(det(1, 1, jitter(rng, g, 0.05), 0.5 if 80 <= i < 130 else 0.9 - i * 1e-3))
    rng.shuffle(dets)
    out.append(case("ties_rank100", dataset([1], [1], anns), dets))
    return out


def fam_duplicates(rng):
    out = []
    for n in range(4):
        anns, dets = random_scene(rng, 6, [1, 2], 5, dets_per_gt=1, fp_per_image=2,
                                  score_digits=2 if n % 2 else None)
        dup = []
        for d in dets:
            for _ in range(rng.randint(1, 5)):
                e = dict(d, bbox=list(d["bbox"]))
                if n >= 2 and rng.random() < 0.3:  # near-duplicates
                    e["bbox"][0] += rng.choice([1e-9, -1e-9, 1e-12])
                dup.append(e)
        out.append(case("duplicates_%d" % n, dataset(range(1, 7), [1, 2], anns), dup))
    return out


def fam_over100(rng):
    out = []
    # TPs at ranks 1, 10, 11, 100 and 101 of a 150-detection cell.
    anns = [gt(i + 1, 1, 1, [i * 60.0, 10, 50, 50]) for i in range(5)]
    dets = []
    tp_ranks = {0: 0, 9: 1, 10: 2, 99: 3, 100: 4}
    for r in range(150):
        box = anns[tp_ranks[r]]["bbox"] if r in tp_ranks else [300, 300 + r, 20, 20]
        dets.append(det(1, 1, box, 1.0 - r / 1000.0))
    rng.shuffle(dets)
    out.append(case("over100_ranks", dataset([1], [1], anns), dets))
    # 80 categories x 100 detections on one image: the cap is per (image, category).
    cats = list(range(1, 81))
    anns, dets = [], []
    for c in cats:
        box = rand_box(rng)
        anns.append(gt(len(anns) + 1, 1, c, box))
        for r in range(100):
            dets.append(det(1, c, jitter(rng, box, 0.3), rng.random()))
    out.append(case("over100_80cats", dataset([1, 2], cats, anns), dets))
    # Several images with 100-130 detections in a cell, many true positives.
    anns, dets = [], []
    for img in range(1, 5):
        for c in (1, 2):
            boxes = [rand_box(rng) for _ in range(40)]
            for b in boxes:
                anns.append(gt(len(anns) + 1, img, c, b))
            for _ in range(rng.randint(100, 130)):
                dets.append(det(img, c, jitter(rng, rng.choice(boxes), 0.1), rng.random()))
    out.append(case("over100_dense", dataset(range(1, 5), [1, 2], anns), dets))
    return out


def fam_crowd(rng):
    out = []
    # A crowd region absorbing many detections, a detection over both a regular and a crowd
    # GT, a crowd-only category, crowd GTs of every size.
    anns = [gt(1, 1, 1, [0, 0, 300, 300], iscrowd=1, area=50000),
            gt(2, 1, 1, [10, 10, 50, 50]),
            gt(3, 1, 2, [100, 100, 200, 200], iscrowd=1),
            gt(4, 2, 1, [0, 0, 20, 20], iscrowd=1, area=300),
            gt(5, 2, 1, [100, 100, 60, 60], iscrowd=1, area=5000),
            gt(6, 2, 1, [300, 300, 150, 150]),
            gt(7, 2, 1, [300, 300, 150, 150], iscrowd=1)]
    dets = [det(1, 1, [10, 10, 50, 50], 0.9), det(1, 1, [12, 10, 50, 50], 0.8)]
    dets += [det(1, 1, jitter(rng, [50, 50, 60, 60], 0.5), rng.random()) for _ in range(12)]
    dets += [det(1, 2, jitter(rng, [150, 150, 40, 40], 0.5), rng.random()) for _ in range(5)]
    dets += [det(2, 1, [0, 0, 20, 20], 0.7), det(2, 1, [1, 1, 18, 18], 0.7),
             det(2, 1, [100, 100, 60, 60], 0.3), det(2, 1, [300, 300, 150, 150], 0.95),
             det(2, 1, [305, 300, 150, 150], 0.94), det(2, 1, [310, 300, 150, 150], 0.93)]
    out.append(case("crowd_handmade", dataset([1, 2], [1, 2], anns), dets))
    for n in range(4):
        anns, dets = random_scene(rng, 8, [1, 2, 3], 6, dets_per_gt=2.5, crowd_rate=0.3,
                                  score_digits=2)
        out.append(case("crowd_%d" % n, dataset(range(1, 9), [1, 2, 3], anns), dets))
    return out


def fam_area(rng):
    out = []
    up, down = (lambda v: math.nextafter(v, math.inf)), (lambda v: math.nextafter(v, -math.inf))
    areas = [0, 1024, 9216, 1e10, up(1024), down(1024), up(9216), down(9216), up(1e10),
             down(1e10), 1024.0, 9216.0, up(0.0), 500, 5000, 20000]
    anns, dets = [], []
    for i, area in enumerate(areas):
        box = [i * 40.0, 0, 35, 35 + i]
        anns.append(gt(i + 1, 1, 1, box, area=area))  # area inconsistent with the box
        dets.append(det(1, 1, box, 0.5 + i / 100))
    # Detection boxes whose w*h lands on and around the boundaries.
    for i, (w, h) in enumerate([(32, 32), (96, 96), (31.999999999999996, 32), (32, 32.00000000000001),
                                (0.1, 10240), (96, 96.00000000000001), (1e5, 1e5), (1e5, 1e5 + 1)]):
        dets.append(det(1, 1, [i * 50.0, 200, w, h], 0.3 + i / 100))
    out.append(case("area_boundaries", dataset([1], [1], anns), dets))
    for n in range(3):
        anns, dets = random_scene(rng, 10, [1, 2], 8, dets_per_gt=1.2, area_noise=0.8)
        for a in anns:  # snap some areas onto the boundaries
            if rng.random() < 0.3:
                a["area"] = rng.choice([1024, 9216, 1024.0, up(1024), down(9216)])
        for d in dets:
            if rng.random() < 0.3:
                d["bbox"][2], d["bbox"][3] = rng.choice([(32, 32), (96, 96), (16, 64), (48, 192)])
        out.append(case("area_random_%d" % n, dataset(range(1, 11), [1, 2], anns), dets))
    return out


def fam_geometry(rng):
    out = []
    anns = [gt(1, 1, 1, [10, 10, 1e-6, 1e-6]), gt(2, 1, 1, [20, 20, 0, 10]),
            gt(3, 1, 1, [30, 30, 10, 0]), gt(4, 1, 1, [-50, -50, 100, 100]),
            gt(5, 1, 1, [0, 0, 1e5, 1e5]), gt(6, 1, 1, [600, 400, 200, 200]),
            gt(7, 1, 1, [0.1, 0.2, 0.30000000000000004, 0.7]),
            gt(8, 1, 1, [1 / 3, 2 / 3, 1 / 7, 22 / 7])]
    dets = [det(1, 1, [10, 10, 1e-6, 1e-6], 0.9), det(1, 1, [10, 10, 2e-6, 1e-6], 0.85),
            det(1, 1, [20, 20, 0, 10], 0.8), det(1, 1, [30, 30, 10, 0], 0.75),
            det(1, 1, [-50, -50, 100, 100], 0.7), det(1, 1, [1, 1, 1e5, 1e5], 0.65),
            det(1, 1, [600, 400, 100, 200], 0.6), det(1, 1, [0.1, 0.2, 0.3, 0.7], 0.55),
            det(1, 1, [1 / 3, 2 / 3, 1 / 7, 22 / 7], 0.5), det(1, 1, [0, 0, 0, 0], 0.45),
            det(1, 1, [1e-300, 1e-300, 1e-300, 1e-300], 0.4)]
    out.append(case("geometry_handmade", dataset([1], [1], anns), dets))
    for n in range(3):
        scale = [1e-3, 1.0, 1e4][n]
        anns, dets = [], []
        for i in range(30):
            box = [rng.uniform(-10, 600) * scale, rng.uniform(-10, 400) * scale,
                   rng.uniform(0, 80) * scale, rng.uniform(0, 80) * scale]
            anns.append(gt(i + 1, 1 + i % 3, 1, box))
            for _ in range(2):
                dets.append(det(1 + i % 3, 1, jitter(rng, box, 0.05), rng.random()))
        out.append(case("geometry_scale_%d" % n, dataset([1, 2, 3], [1], anns), dets))
    return out


def fam_iou_thresholds(rng):
    out = []
    thresholds = [.5 + i * (0.45 / 9) for i in range(9)] + [0.95]
    # Integer boxes with IoU exactly 0.50, 0.55, ..., 0.95 and the 0.9 case.
    anns, dets = [], []
    for i, w in enumerate(range(45, 101)):
        img = i + 1
        anns.append(gt(i + 1, img, 1, [0, 0, 100, 100]))
        dets.append(det(img, 1, [0, 0, w, 100], rng.random()))
    out.append(case("iou_exact_integers", dataset(range(1, 57), [1], anns), dets))
    # Fractional boxes whose IoU is within an ulp or two of a threshold: bisect the width.
    anns, dets = [], []
    img = 0
    for thr in thresholds + [0.9]:
        for _ in range(4):
            g = rand_box(rng, min_wh=10, max_wh=100)
            d = [g[0] + rng.uniform(-2, 2), g[1] + rng.uniform(-2, 2), g[2], g[3]]
            lo, hi = 1e-9, g[2]  # IoU grows with the width up to overlap
            if not bbox_iou([d[0], d[1], hi, d[3]], g, False) >= thr:
                continue
            for _ in range(200):
                mid = (lo + hi) / 2
                if bbox_iou([d[0], d[1], mid, d[3]], g, False) >= thr:
                    hi = mid
                else:
                    lo = mid
            for w in (lo, hi, math.nextafter(hi, math.inf), math.nextafter(lo, -math.inf)):
                img += 1
                anns.append(gt(len(anns) + 1, img, 1, g))
                dets.append(det(img, 1, [d[0], d[1], w, d[3]], rng.random()))
    out.append(case("iou_near_thresholds", dataset(range(1, img + 1), [1], anns), dets))
    return out


def fam_equal_iou(rng):
    out = []
    # The detection [0.5, 0, 10, 10] has IoU 95/105 with both GTs; the later one wins unless
    # it is ignored and the earlier is not (the break rule).
    specs = [(0, 0, 1000, 1000), (0, 1, 1000, 1000), (1, 0, 1000, 1000), (1, 1, 1000, 1000),
             (0, 0, 50, 1000), (0, 0, 1000, 50)]
    for n, (crowd1, crowd2, area1, area2) in enumerate(specs):
        anns = [gt(10, 1, 1, [0, 0, 10, 10], iscrowd=crowd1, area=area1),
                gt(20, 1, 1, [1, 0, 10, 10], iscrowd=crowd2, area=area2)]
        dets = [det(1, 1, [0.5, 0, 10, 10], 0.9), det(1, 1, [0.5, 0, 10, 10], 0.8),
                det(1, 1, [0.5, 0, 10, 10], 0.7)]
        out.append(case("equal_iou_%d" % n, dataset([1], [1], anns), dets))
    return out


def fam_recall_thresholds(rng):
    out = []
    for npig in (10, 20, 50, 100, 200):
        anns = [gt(i + 1, i + 1, 1, [0, 0, 10, 10]) for i in range(npig)]
        dets, score = [], 1.0
        hit = list(range(npig))
        rng.shuffle(hit)
        for img in hit:
            # A run of false positives after each true positive: precision drops right after
            # recall reaches k / npig, so a wrong threshold picks a different precision.
            score -= 1e-3
            dets.append(det(img + 1, 1, [0, 0, 10, 10], score))
            for _ in range(rng.randint(0, 3)):
                score -= 1e-3
                dets.append(det(img + 1, 1, [50, 50, 10, 10], score))
        out.append(case("recall_thresholds_%d" % npig, dataset(range(1, npig + 1), [1], anns), dets))
    return out


def fam_epsilon(rng):
    out = []
    one = [gt(1, 1, 1, [0, 0, 10, 10])]
    two = one + [gt(2, 2, 1, [0, 0, 10, 10])]
    out.append(case("epsilon_one_tp", dataset([1], [1], one), [det(1, 1, [0, 0, 10, 10], 0.9)]))
    out.append(case("epsilon_two_tp", dataset([1, 2], [1], two),
                    [det(1, 1, [0, 0, 10, 10], 0.9), det(2, 1, [0, 0, 10, 10], 0.8)]))
    out.append(case("epsilon_tp_then_fp", dataset([1], [1], one),
                    [det(1, 1, [0, 0, 10, 10], 0.9), det(1, 1, [50, 0, 10, 10], 0.8)]))
    out.append(case("epsilon_fp_then_tp", dataset([1], [1], one),
                    [det(1, 1, [50, 0, 10, 10], 0.9), det(1, 1, [0, 0, 10, 10], 0.8)]))
    crowd = [gt(1, 1, 1, [0, 0, 100, 100], iscrowd=1), gt(2, 1, 2, [0, 0, 10, 10])]
    out.append(case("epsilon_all_ignored", dataset([1], [1, 2], crowd),
                    [det(1, 1, [10, 10, 10, 10], 0.9), det(1, 1, [20, 20, 10, 10], 0.8),
                     det(1, 2, [0, 0, 10, 10], 0.7)]))
    # One ignored (crowd-matched) detection ranked first: the score sampled at recall 0
    # is the ignored one's (ignored detections keep their rank).
    mixed = [gt(1, 1, 1, [0, 0, 100, 100], iscrowd=1), gt(2, 1, 1, [200, 200, 10, 10])]
    out.append(case("epsilon_ignored_first", dataset([1], [1], mixed),
                    [det(1, 1, [10, 10, 10, 10], 0.9), det(1, 1, [200, 200, 10, 10], 0.8)]))
    return out


def fam_missing(rng):
    out = []
    anns = [gt(1, 1, 1, [0, 0, 10, 10]), gt(2, 2, 1, [0, 0, 10, 10]), gt(3, 2, 3, [0, 0, 40, 40])]
    dets = [det(1, 1, [0, 0, 10, 10], 0.9), det(3, 1, [0, 0, 10, 10], 0.95),  # image 3: no GT
            det(1, 2, [0, 0, 10, 10], 0.5),  # category 2 listed, no GT
            det(1, 99, [0, 0, 10, 10], 0.99),  # category 99 not in the GT: dropped
            det(4, 3, [0, 0, 40, 40], 0.4)]   # image 4 has no annotations
    gt_data = dataset([1, 2, 3, 4, 5], [1, 2, 3, 4], anns)
    out.append(case("missing_handmade", gt_data, dets))
    anns, dets = random_scene(rng, 12, [1, 2, 3, 4, 5], 4, fp_per_image=3)
    data = dataset(range(1, 15), [1, 2, 3, 4, 5, 6], anns)
    out.append(case("missing_imgids_subset", data, dets, {"imgIds": [2, 3, 5, 7, 11, 13, 99]}))
    out.append(case("missing_catids_subset", data, dets, {"catIds": [5, 2, 6]}))
    out.append(case("missing_both_subsets", data, dets, {"imgIds": [1, 4, 9, 4], "catIds": [1, 3]}))
    return out


def fam_identity(rng):
    out = []
    # GT id 0 (its match looks unmatched), negative ids, duplicated ids on the same and on
    # different images (loadAnns returns the last one for each), an `ignore` flag (dead).
    anns = [gt(0, 1, 1, [0, 0, 10, 10]), gt(-5, 1, 1, [50, 0, 10, 10]),
            gt(7, 2, 1, [0, 0, 10, 10]), gt(7, 2, 1, [50, 0, 10, 10]),
            gt(8, 3, 1, [0, 0, 10, 10]), gt(9, 3, 2, [0, 0, 10, 10]), gt(8, 4, 2, [30, 30, 20, 20]),
            gt(11, 5, 1, [0, 0, 10, 10], ignore=1), gt(12, 5, 1, [50, 50, 10, 10], ignore=0)]
    dets = [det(1, 1, [0, 0, 10, 10], 0.9), det(1, 1, [50, 0, 10, 10], 0.8),
            det(2, 1, [0, 0, 10, 10], 0.7), det(2, 1, [50, 0, 10, 10], 0.6),
            det(3, 1, [0, 0, 10, 10], 0.5), det(4, 2, [30, 30, 20, 20], 0.4),
            det(3, 2, [0, 0, 10, 10], 0.3), det(5, 1, [0, 0, 10, 10], 0.2),
            det(5, 1, [50, 50, 10, 10], 0.1)]
    out.append(case("identity_ids", dataset([1, 2, 3, 4, 5], [1, 2], anns), dets))
    # Duplicated image and category entries, integral float ids.
    data = dataset([1, 2, 2, 3], [1, 1, 2], [gt(1, 1, 1, [0, 0, 10, 10]), gt(2, 2.0, 2, [0, 0, 5, 5])])
    out.append(case("identity_duplicate_entries", data,
                    [det(1, 1, [0, 0, 10, 10], 0.5), det(2, 2, [0, 0, 5, 5], 0.5),
                     det(3.0, 1.0, [0, 0, 5, 5], 0.4)]))
    # pycocotools raises: results naming an image outside the annotations, an empty results
    # list, a GT without iscrowd.
    base = dataset([1], [1], [gt(1, 1, 1, [0, 0, 10, 10])])
    out.append(case("identity_unknown_image", base, [det(2, 1, [0, 0, 10, 10], 0.5)],
                    expect_error=True))
    out.append(case("identity_empty_results", base, [], expect_error=True))
    no_crowd = dataset([1], [1], [gt(1, 1, 1, [0, 0, 10, 10])])
    del no_crowd["annotations"][0]["iscrowd"]
    out.append(case("identity_missing_iscrowd", no_crowd, [det(1, 1, [0, 0, 10, 10], 0.5)],
                    expect_error=True))
    return out


def fam_summation(rng):
    out = []
    # Valid category counts around NumPy's 8192-element chunk: 1010 * K entries per AP mean.
    for K in (1, 8, 9, 80, 365):
        cats = sorted(rng.sample(range(1, 4 * K + 10), K))
        n_images = 12 if K < 100 else 16
        anns, dets = [], []
        for i, c in enumerate(cats):  # every category gets at least one GT
            img = 1 + i % n_images
            box = rand_box(rng)
            anns.append(gt(len(anns) + 1, img, c, box))
            dets.append(det(img, c, jitter(rng, box, 0.1), rng.random()))
        more, more_dets = random_scene(rng, n_images, cats, 3 if K < 100 else 6, dets_per_gt=1.5,
                                       fp_per_image=3)
        for a in more:
            a["id"] += 10 ** 6
        out.append(case("summation_%d" % K, dataset(range(1, n_images + 1), cats, anns + more),
                        dets + more_dets))
    # Categories valid in 'all' but not in 'small': only large objects.
    anns = [gt(i + 1, 1 + i % 4, 1 + i % 12, [0, 0, 150, 150]) for i in range(24)]
    dets = [det(a["image_id"], a["category_id"], [2, 2, 150, 150], rng.random()) for a in anns]
    out.append(case("summation_large_only", dataset(range(1, 5), range(1, 13), anns), dets))
    return out


def fam_numbers(rng):
    out = []
    gt_text = """{"info": {}, "images": [{"id": 1e0}, {"id": 2}],
 "categories": [{"id": 1, "name": "a"}, {"id": 2.0, "name": "b"}],
 "annotations": [
  {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1E1, 2.5e+1, 1.00000000000000000000001e2, 50], "area": 5.0e3, "iscrowd": 0},
  {"id": 2, "image_id": 2, "category_id": 2, "bbox": [0.1000000000000000055511151231257827, 0.2, 0.30000000000000004, 0.7], "area": 0.21, "iscrowd": false},
  {"id": 3, "image_id": 2, "category_id": 1, "bbox": [123.456789012345678901234567890, 9007199254740993, 4.9406564584124654e-324, 17.0], "area": 1024, "iscrowd": 0},
  {"id": 4, "image_id": 1, "category_id": 2, "bbox": [-0.0, 0e0, 32, 32], "area": 1024.0000000000001, "iscrowd": 1}
 ]}"""
    dt_text = """[
 {"image_id": 1, "category_id": 1, "bbox": [10.000000000000002, 25, 100, 50.00000000000001], "score": 0.9},
 {"image_id": 1, "category_id": 1, "bbox": [1e1, 2.5E1, 99.99999999999999, 5e1], "score": 9e-1},
 {"image_id": 2, "category_id": 2, "bbox": [0.1, 0.2, 0.3, 0.7], "score": 0.7000000000000001},
 {"image_id": 2, "category_id": 2, "bbox": [0.1, 0.2, 0.30000000000000004, 0.7], "score": 7e-1},
 {"image_id": 2.0, "category_id": 1, "bbox": [123.45678901234568, 9007199254740992, 1e-323, 17], "score": 1},
 {"image_id": 1, "category_id": 2, "bbox": [0, 0, 32.0, 32], "score": 0, "extra": [1, {"x": null}]},
 {"image_id": 1, "category_id": 1, "bbox": [1.7976931348623157e30, 0, 1e-5, 1e-5], "score": 2.2250738585072014e-308}
]"""
    out.append(case("numbers_syntax", None, None, gt_text=gt_text, dt_text=dt_text))
    return out


def fam_params(rng):
    out = []
    anns, dets = random_scene(rng, 10, [1, 2, 3, 4], 6, dets_per_gt=2, fp_per_image=4, crowd_rate=0.1)
    data = dataset(range(1, 11), [1, 2, 3, 4], anns)
    out.append(case("params_defaults", data, dets))
    out.append(case("params_maxdets", data, dets, {"maxDets": [3, 1, 20]}))
    out.append(case("params_maxdets_no100", data, dets, {"maxDets": [1, 5, 10, 50]}))
    out.append(case("params_usecats0", data, dets, {"useCats": 0}))
    out.append(case("params_usecats0_catids", data, dets, {"useCats": 0, "catIds": [4, 2, 2, 7]}))
    out.append(case("params_arearng", data, dets, {"areaRng": [[0, 1e10], [0, 4000], [4000, 1e10]],
                                                   "areaRngLbl": ["all", "small", "large"]}))
    out.append(case("params_thresholds", data, dets, {"iouThrs": [0.5, 0.75, 0.3],
                                                      "recThrs": [0.0, 0.25, 0.5, 0.75, 1.0, 0.1]}))
    out.append(case("params_maxdets_two", data, dets, {"maxDets": [1, 10]}, expect_error=True))
    return out


def fam_fuzz(rng, count=400):
    out = []
    for n in range(count):
        n_images = rng.randint(1, 5)
        cats = rng.sample(range(1, 6), rng.randint(1, 3))
        scores = [round(rng.random(), 2) for _ in range(3)]
        anns, dets = [], []
        for img in range(1, n_images + 1):
            boxes = []
            for _ in range(rng.randint(0, 6)):
                box = rand_box(rng, size=100, min_wh=0, max_wh=60, digits=rng.choice([0, 1, None]))
                boxes.append(box)
                area = rng.choice([box[2] * box[3], rng.uniform(0, 12000), 1024, 9216])
                anns.append(gt(rng.choice([len(anns) + 1, len(anns) + 1, 0]) if rng.random() < 0.1
                               else len(anns) + 1, img, rng.choice(cats), box, area=area,
                               iscrowd=1 if rng.random() < 0.15 else 0))
            for _ in range(rng.randint(0, 20)):
                if boxes and rng.random() < 0.6:
                    box = jitter(rng, rng.choice(boxes), rng.choice([0.0, 0.05, 0.2]))
                else:
                    box = rand_box(rng, size=100, min_wh=0, max_wh=60)
                dets.append(det(img, rng.choice(cats + [99]), box, rng.choice(scores)))
        if not dets:
            dets.append(det(1, cats[0], [0, 0, 5, 5], 0.5))
        out.append(case("fuzz_%d" % n, dataset(range(1, n_images + 1), sorted(set(cats + [4])), anns), dets))
    return out


def fam_realistic(rng, mini_annotations):
    out = []
    with open(mini_annotations) as f:
        mini = json.load(f)
    # Detector-like output on the real annotations: jittered TPs, a few misses, confusions and
    # background FPs, scores correlated with quality.
    cat_ids = [c["id"] for c in mini["categories"]]
    dets = []
    for a in mini["annotations"]:
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            amount = rng.choice([0.02, 0.05, 0.15, 0.4])
            cat = a["category_id"] if rng.random() < 0.9 else rng.choice(cat_ids)
            dets.append(det(a["image_id"], cat, [round(v, 2) for v in jitter(rng, a["bbox"], amount)],
                            round(max(0.0, min(1.0, 0.9 - amount + rng.gauss(0, 0.1))), 5)))
    for img in mini["images"]:
        for _ in range(30):
            dets.append(det(img["id"], rng.choice(cat_ids), rand_box(rng, digits=2),
                            round(rng.random() * 0.5, 5)))
    out.append(case("realistic_val2017_mini", mini, dets))
    # A detector-sized synthetic set: 150 images, 80 categories, ~100 detections per image.
    cats = [c for c in range(1, 91) if c not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    anns, dets = random_scene(rng, 150, cats, 14, dets_per_gt=2.0, fp_per_image=85,
                              crowd_rate=0.01, area_noise=0.5)
    out.append(case("realistic_synthetic_80", dataset(range(1, 151), cats, anns), dets))
    return out


def flip_box(rng, box, kind=None):
    """The box with a negative width, height or both, or a zero one (kind picks; random else)."""
    kind = kind or rng.choice(["neg_w", "neg_h", "neg_wh", "zero_w", "zero_h", "zero_wh"])
    x, y, w, h = box
    if kind in ("neg_w", "neg_wh"):
        w = -w
    if kind in ("neg_h", "neg_wh"):
        h = -h
    if kind in ("zero_w", "zero_wh"):
        w = rng.choice([0, 0.0, -0.0])
    if kind in ("zero_h", "zero_wh"):
        h = rng.choice([0, 0.0, -0.0])
    return [x, y, w, h]


def fam_odd_boxes(rng):
    """Boxes pycocotools accepts although they have no extent: negative or zero widths and
    heights (IoU 0 with everything; a detection's area w*h is negative with one negative side,
    so it falls outside every default area range), huge boxes whose areas overflow to inf
    (IoU inf/inf = NaN, which matches at every threshold since NaN < t is false), in ground
    truth and in detections, crowd or not."""
    out = []
    # One kind of odd GT box per case: the GT keeps its `area` field (the file's, positive or
    # not), detections aim at the box as written and at its mirror image.
    for kind in ("neg_w", "neg_h", "neg_wh", "zero_w", "zero_h", "zero_wh"):
        anns, dets = random_scene(rng, 6, [1, 2], 5, dets_per_gt=1.5, fp_per_image=2,
                                  score_digits=2)
        for a in anns:
            if rng.random() < 0.4:
                x, y, w, h = a["bbox"]
                a["bbox"] = flip_box(rng, a["bbox"], kind)
                a["area"] = rng.choice([a["area"], -a["area"], 0, w * h])
                dets.append(det(a["image_id"], a["category_id"], a["bbox"], rng.random()))
                dets.append(det(a["image_id"], a["category_id"],
                                [x + min(0, a["bbox"][2]), y + min(0, a["bbox"][3]), w, h],
                                rng.random()))
        out.append(case("odd_gt_%s" % kind, dataset(range(1, 7), [1, 2], anns), dets))
    # Odd detections: over regular GTs, at the top of the ranking and in the middle; a negative
    # area is outside every range (ignored when unmatched), a both-negative box has a positive
    # area (a false positive), a zero-size one area 0 (in 'all' and 'small').
    for kind in ("neg_w", "neg_h", "neg_wh", "zero_w", "zero_h", "zero_wh", None):
        anns, dets = random_scene(rng, 6, [1, 2, 3], 5, dets_per_gt=2, fp_per_image=3)
        for d in dets:
            if rng.random() < 0.35:
                d["bbox"] = flip_box(rng, d["bbox"], kind)
                if rng.random() < 0.3:
                    d["score"] = 1.0
        out.append(case("odd_dt_%s" % (kind or "mixed"), dataset(range(1, 7), [1, 2, 3], anns),
                        dets))
    # Crowd GTs with negative and zero sizes (union = the detection's area), next to regular ones.
    anns = [gt(1, 1, 1, [100, 100, -50, 50], iscrowd=1, area=2500),
            gt(2, 1, 1, [60, 100, 50, 50], iscrowd=1, area=2500),
            gt(3, 1, 1, [0, 0, 0, 30], iscrowd=1, area=0),
            gt(4, 1, 1, [0, 0, 30, 30]),
            gt(5, 2, 1, [10, 10, -20, -20], iscrowd=1, area=400),
            gt(6, 2, 1, [10, 10, 20, 20])]
    dets = [det(1, 1, [100, 100, -50, 50], 0.9), det(1, 1, [50, 100, 50, 50], 0.85),
            det(1, 1, [70, 110, 20, 20], 0.8), det(1, 1, [0, 0, 30, 30], 0.75),
            det(1, 1, [0, 0, 0, 30], 0.7), det(2, 1, [-10, -10, 20, 20], 0.6),
            det(2, 1, [10, 10, 20, 20], 0.5), det(2, 1, [10, 10, -20, -20], 0.95)]
    for _ in range(10):
        dets.append(det(rng.choice([1, 2]), 1, flip_box(rng, rand_box(rng, size=150, max_wh=60)),
                        rng.random()))
    out.append(case("odd_crowd", dataset([1, 2], [1], anns), dets))
    # Huge and far-away boxes: areas 1e60 and inf (then IoU NaN or 0), x + w overflowing to inf,
    # negative coordinates of 1e30. A GT's `area` must stay finite (JSON has no inf).
    big, top = 1e200, 1.7976931348623157e308
    anns = [gt(1, 1, 1, [0, 0, 1e30, 1e30], area=1e60), gt(2, 1, 1, [-1e30, -1e30, 1e30, 1e30], area=1e60),
            gt(3, 1, 1, [0, 0, big, big], area=top), gt(4, 1, 1, [0, 0, 10, 10]),
            gt(5, 2, 1, [top, top, top, top], area=top), gt(6, 2, 1, [0, 0, big, big], iscrowd=1, area=1e10),
            gt(7, 2, 1, [5, 5, 10, 10]), gt(8, 3, 1, [-1e30, 0, 1e30, 10], area=1e31),
            gt(9, 3, 1, [0, 0, big, -big], area=top), gt(10, 3, 2, [0, 0, big, big], area=5000),
            gt(11, 3, 2, [0, 0, big, big], area=5000)]
    dets = [det(1, 1, [0, 0, 1e30, 1e30], 0.9), det(1, 1, [-1e30, -1e30, 1e30, 1e30], 0.8),
            det(1, 1, [0, 0, big, big], 0.7), det(1, 1, [0, 0, big, big], 0.65),
            det(1, 1, [0, 0, 10, 10], 0.6), det(1, 1, [0, 0, 1e30, 10], 0.55),
            det(2, 1, [top, top, top, top], 0.9), det(2, 1, [0, 0, big, big], 0.8),
            det(2, 1, [0, 0, top, top], 0.75), det(2, 1, [5, 5, 10, 10], 0.7),
            det(3, 1, [-1e30, 0, 1e30, 10], 0.9), det(3, 1, [0, 0, big, -big], 0.85),
            det(3, 1, [-big, -big, big, big], 0.8), det(3, 2, [0, 0, big, big], 0.9),
            det(3, 2, [1, 1, big, big], 0.8), det(3, 2, [0, 0, 10, 10], 0.7)]
    out.append(case("odd_huge", dataset([1, 2, 3], [1, 2], anns), dets))
    # Parameters under which IoU 0 matters: thresholds at or below 0 (IoU 0 >= 0 matches, so odd
    # boxes match), area ranges reaching below 0 (negative areas inside a range).
    anns, dets = random_scene(rng, 5, [1, 2], 5, dets_per_gt=1.5, fp_per_image=2)
    for a in anns:
        if rng.random() < 0.4:
            a["bbox"] = flip_box(rng, a["bbox"])
            a["area"] = rng.choice([a["area"], -a["area"], 0])
    for d in dets:
        if rng.random() < 0.4:
            d["bbox"] = flip_box(rng, d["bbox"])
    data = dataset(range(1, 6), [1, 2], anns)
    out.append(case("odd_params_defaults", data, dets))
    out.append(case("odd_params_iou0", data, dets, {"iouThrs": [0.0, 0.5, -0.25, 1e-300]}))
    out.append(case("odd_params_negative_areas", data, dets,
                    {"areaRng": [[-1e10, 1e10], [-1e10, 0.0], [0.0, 1e10], [-500.0, 500.0]],
                     "areaRngLbl": ["all", "small", "medium", "large"]}))
    out.append(case("odd_params_usecats0", data, dets, {"useCats": 0}))
    # Realistic files with a few odd boxes of every kind on both sides, as a converter bug or a
    # detector's raw output would leave them.
    for n in range(4):
        cats = [1, 2, 3, 5, 8]
        anns, dets = random_scene(rng, 20, cats, 8, dets_per_gt=1.5, fp_per_image=10,
                                  crowd_rate=0.05, area_noise=0.3, box_digits=rng.choice([None, 2]))
        for a in anns:
            if rng.random() < 0.08:
                a["bbox"] = flip_box(rng, a["bbox"])
        for d in dets:
            r = rng.random()
            if r < 0.05:
                d["bbox"] = flip_box(rng, d["bbox"])
            elif r < 0.07:  # a corner-format box read as [x, y, w, h]: x2 < x1 gives w < 0
                x, y, w, h = d["bbox"]
                d["bbox"] = [x + w, y + h, -w, -h] if rng.random() < 0.5 else [x, y, x - 700, h]
        out.append(case("odd_mixed_%d" % n, dataset(range(1, 21), cats, anns), dets))
    return out


def generate(families=None, seed=0, mini_annotations=None, fuzz_count=400):
    """All cases of the requested families (default: all), deterministic for a seed."""
    families = families or FAMILIES
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError("unknown families: %s (known: %s)" % (sorted(unknown), FAMILIES))
    cases = []
    for i, fam in enumerate(FAMILIES):
        if fam not in families:
            continue
        rng = random.Random("%d/%s" % (seed, fam))
        if fam == "realistic":
            cases += fam_realistic(rng, mini_annotations)
        elif fam == "fuzz":
            cases += fam_fuzz(rng, fuzz_count)
        else:
            cases += globals()["fam_" + fam](rng)
    return cases
