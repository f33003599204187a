#!/usr/bin/env python3
"""Writes tests/models/data/ssd_loss_reference.json: the SSD loss of the TF Object Detection
API (NVIDIA's SSD320 v1.2 config) computed end to end in NumPy on a tiny fixed input, the
independent reference of tests/models/detectors_test.cpp.

    .venv/bin/python3 scripts/detection/ssd_loss_reference.py

Everything is re-derived here from NVIDIA's TF1 code, vectorised the way TensorFlow computes
it, sharing nothing with trainer's C++:
  anchors      anchor_generators/multiscale_grid_anchor_generator.py + grid_anchor_generator.py
               (float32, as TF), here on a 40x24 image, levels 3..4, anchor_scale 2,
               aspect ratios [1, 2], 2 scales per octave: 84 anchors
  similarity   core/box_list_ops.py iou
  matcher      matchers/argmax_matcher.py (force_match_for_each_row with tf.argmax's
               first-index rule; the lowest row wins a column forced twice)
  coder        box_coders/faster_rcnn_box_coder.py, scales 10, 10, 5, 5, EPSILON 1e-8
  targets      core/target_assigner.py assign + ssd_meta_arch._assign_targets: background slot
               added and encoded as zeros, class weight 0 for ignored anchors
  losses       core/losses.py SigmoidFocalClassificationLoss (alpha 0.25, gamma 2) over all
               K + 1 slots and WeightedSmoothL1LocalizationLoss (huber, delta 1)
  loss         ssd_meta_arch.loss: sums, normaliser max(sum(reg_weights), 1), localization also
               divided by the code size 4
Crowd boxes are dropped before matching (trainer's documented choice; TF has no crowd
handling in SSD training). The gradients of classification + localization loss with respect
to the logits and box codes are central finite differences of this NumPy loss in float64.
Two matcher settings run: the config's (0.5 / 0.5, no ignored anchors) and 0.5 / 0.4 (an
ignore zone). The script refuses inputs where an IoU lies within 1e-4 of a threshold, so
float32 rounding cannot flip a match."""
import json
import os

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "models", "data", "ssd_loss_reference.json")

IMAGE_H, IMAGE_W = 40, 24
ANCHOR_OPTIONS = dict(min_level=3, max_level=4, anchor_scale=2.0, aspect_ratios=[1.0, 2.0], scales_per_octave=2)
NUM_CLASSES = 3
ALPHA, GAMMA, DELTA = 0.25, 2.0, 1.0
SCALES = np.array([10.0, 10.0, 5.0, 5.0])
EPSILON = 1e-8

# Per image: boxes [ymin, xmin, ymax, xmax] (normalised), labels 1..K, crowd flags.
IMAGES = [
    dict(  # a box close to a level-3 anchor, a crowd box, a small box below 0.5 with every
        # anchor (force-matched), and one overlapping the first
        boxes=[[0.02, 0.04, 0.42, 0.70], [0.50, 0.40, 0.98, 0.98], [0.80, 0.05, 0.86, 0.15],
               [0.10, 0.30, 0.55, 0.95]],
        labels=[1, 3, 2, 3],
        crowd=[0, 1, 0, 0]),
    dict(boxes=[], labels=[], crowd=[]),  # no boxes: every anchor a negative
    dict(  # two identical boxes: every tie goes to the first row, which also wins the
        # column both force
        boxes=[[0.30, 0.10, 0.70, 0.90], [0.30, 0.10, 0.70, 0.90]],
        labels=[2, 1],
        crowd=[0, 0]),
]
MATCHERS = [
    dict(name="ssd320", matched_threshold=0.5, unmatched_threshold=0.5, negatives_lower_than_unmatched=True,
         force_match_for_each_row=True),
    dict(name="ignore_zone", matched_threshold=0.5, unmatched_threshold=0.4, negatives_lower_than_unmatched=True,
         force_match_for_each_row=True),
]


def f32(x):
    return np.float32(x)


def multiscale_anchors(o, im_h, im_w):
    """float32 throughout, as the TF graph computes it."""
    grids = []
    scales = [2 ** (float(s) / o["scales_per_octave"]) for s in range(o["scales_per_octave"])]
    for level in range(o["min_level"], o["max_level"] + 1):
        stride = 2 ** level
        feat_h, feat_w = -(-im_h // stride), -(-im_w // stride)
        base = f32(2 ** level * o["anchor_scale"])
        offset_y = f32(stride / 2.0) if im_h % 2.0 ** level == 0 or im_h == 1 else f32(0)
        offset_x = f32(stride / 2.0) if im_w % 2.0 ** level == 0 or im_w == 1 else f32(0)
        # ops.meshgrid(scales, aspect_ratios): grids of shape [len(ratios), len(scales)].
        scales_grid, ratios_grid = np.meshgrid(np.array(scales, np.float32),
                                               np.array(o["aspect_ratios"], np.float32))
        scales_grid, ratios_grid = scales_grid.reshape(-1), ratios_grid.reshape(-1)
        ratio_sqrts = np.sqrt(ratios_grid)
        heights = scales_grid / ratio_sqrts * base
        widths = scales_grid * ratio_sqrts * base
        y_centers = np.arange(feat_h, dtype=np.float32) * f32(stride) + offset_y
        x_centers = np.arange(feat_w, dtype=np.float32) * f32(stride) + offset_x
        x_centers, y_centers = np.meshgrid(x_centers, y_centers)  # [feat_h, feat_w]
        widths_grid, x_centers_grid = np.meshgrid(widths, x_centers)  # [feat_h * feat_w, B]
        heights_grid, y_centers_grid = np.meshgrid(heights, y_centers)
        centers = np.stack([y_centers_grid, x_centers_grid], axis=-1).reshape(-1, 2)
        sizes = np.stack([heights_grid, widths_grid], axis=-1).reshape(-1, 2)
        corners = np.concatenate([centers - f32(0.5) * sizes, centers + f32(0.5) * sizes], axis=1)
        scale = np.array([f32(1) / f32(im_h), f32(1) / f32(im_w)] * 2, np.float32)
        grids.append((corners * scale).astype(np.float32))
    return np.concatenate(grids, axis=0)


def iou(a, b):
    """box_list_ops.iou: [len(a), len(b)]."""
    inter_h = np.maximum(0.0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    inter_w = np.maximum(0.0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = inter_h * inter_w
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(inter == 0.0, 0.0, inter / np.where(union == 0, 1, union))


def argmax_match(sim, m):
    """ArgMaxMatcher._match; np.argmax, like tf.argmax, returns the first maximum."""
    rows, cols = sim.shape
    if rows == 0:
        return -np.ones(cols, np.int64)
    matches = np.argmax(sim, axis=0)
    best = sim.max(axis=0)
    below = m["unmatched_threshold"] > best
    between = (best >= m["unmatched_threshold"]) & (m["matched_threshold"] > best)
    if m["negatives_lower_than_unmatched"]:
        matches = np.where(below, -1, matches)
        matches = np.where(between, -2, matches)
    else:
        matches = np.where(below, -2, matches)
        matches = np.where(between, -1, matches)
    if m["force_match_for_each_row"]:
        forced_cols = np.argmax(sim, axis=1)
        indicators = np.zeros((rows, cols))
        indicators[np.arange(rows), forced_cols] = 1.0  # all rows valid
        forced_rows = np.argmax(indicators, axis=0)
        mask = indicators.max(axis=0) > 0
        matches = np.where(mask, forced_rows, matches)
    return matches


def center_size(b):
    h, w = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return b[:, 0] + h / 2.0, b[:, 1] + w / 2.0, h, w


def encode(boxes, anchors):
    yca, xca, ha, wa = center_size(anchors)
    yc, xc, h, w = center_size(boxes)
    ha, wa, h, w = ha + EPSILON, wa + EPSILON, h + EPSILON, w + EPSILON
    codes = np.stack([(yc - yca) / ha, (xc - xca) / wa, np.log(h / ha), np.log(w / wa)], axis=1)
    return codes * SCALES


def assign(anchors, image, m):
    """target_assigner.assign for one image; crowd rows dropped before matching."""
    boxes = np.array(image["boxes"], np.float32).reshape(-1, 4).astype(np.float64)
    labels = np.array(image["labels"], np.int64)
    keep = np.array([i for i, c in enumerate(image["crowd"]) if not c], np.int64)
    gt, gt_labels = boxes[keep], labels[keep]
    anchors64 = anchors.astype(np.float64)
    sim = iou(gt, anchors64)
    for t in {m["matched_threshold"], m["unmatched_threshold"]}:
        assert np.all(np.abs(sim - t) > 1e-4), f"an IoU within 1e-4 of the threshold {t}"
    match = argmax_match(sim, m)
    a = len(anchors)
    # Class targets: one-hot over K classes padded with the background slot 0 in front.
    one_hot = np.zeros((len(keep), NUM_CLASSES + 1))
    one_hot[np.arange(len(keep)), gt_labels] = 1.0
    matched = match >= 0
    cls_targets = np.zeros((a, NUM_CLASSES + 1))
    cls_targets[matched] = one_hot[match[matched]]
    cls_weights = np.where(match == -2, 0.0, 1.0)
    reg_targets = np.zeros((a, 4))
    if matched.any():
        reg_targets[matched] = encode(gt[match[matched]], anchors64[matched])
    reg_weights = matched.astype(np.float64)
    original = np.where(matched, keep[np.maximum(match, 0)] if len(keep) else 0, match)
    return cls_targets, cls_weights, reg_targets, reg_weights, original


def focal(logits, targets, weights):
    p = 1.0 / (1.0 + np.exp(-logits))
    ce = np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
    p_t = targets * p + (1 - targets) * (1 - p)
    alpha = targets * ALPHA + (1 - targets) * (1 - ALPHA)
    return (np.power(1.0 - p_t, GAMMA) * alpha * ce * weights[..., None]).sum()


def smooth_l1(pred, targets, weights):
    err = np.abs(pred - targets)
    quadratic = np.minimum(err, DELTA)
    linear = err - quadratic
    return ((0.5 * quadratic ** 2 + DELTA * linear).sum(axis=2) * weights).sum()


def losses(logits, codes, t):
    normalizer = max(t["reg_weights"].sum(), 1.0)
    cls = focal(logits, t["cls_targets"], t["cls_weights"]) / normalizer
    loc = smooth_l1(codes, t["reg_targets"], t["reg_weights"]) / (normalizer * 4)
    return cls, loc


def finite_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + h
        up = f()
        x[i] = saved - h
        down = f()
        x[i] = saved
        g[i] = (up - down) / (2 * h)
    return g


def short(values, digits):
    """Floats with `digits` significant digits: 9 reproduce a float32 exactly."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values).reshape(-1)]


def main():
    anchors = multiscale_anchors(ANCHOR_OPTIONS, IMAGE_H, IMAGE_W)
    a = len(anchors)
    n = len(IMAGES)
    rng = np.random.default_rng(20240601)
    # float32 predictions (the C++ side holds them as float32): logits around the prior -4.6
    # and box codes spread over both pieces of the Huber loss.
    logits = (rng.normal(-2.0, 2.5, size=(n, a, NUM_CLASSES + 1))).astype(np.float32).astype(np.float64)
    codes = rng.normal(0.0, 1.5, size=(n, a, 4)).astype(np.float32).astype(np.float64)
    cases = []
    for m in MATCHERS:
        per_image = [assign(anchors, image, m) for image in IMAGES]
        t = {key: np.stack([p[i] for p in per_image]) for i, key in
             enumerate(["cls_targets", "cls_weights", "reg_targets", "reg_weights", "matches"])}
        cls, loc = losses(logits, codes, t)
        grad_logits = finite_difference(lambda: sum(losses(logits, codes, t)), logits)
        grad_codes = finite_difference(lambda: sum(losses(logits, codes, t)), codes)
        cases.append({
            "matcher": m,
            "matches": t["matches"].astype(int).tolist(),
            "num_positives": int(t["reg_weights"].sum()),
            "num_ignored": int((t["matches"] == -2).sum()),
            "classification_loss": float(f"{cls:.12g}"),
            "localization_loss": float(f"{loc:.12g}"),
            "grad_logits": [short(g, 10) for g in grad_logits],
            "grad_codes": [short(g, 10) for g in grad_codes],
        })
        print(f"{m['name']}: {cases[-1]['num_positives']} positives, {cases[-1]['num_ignored']} ignored, "
              f"classification {cls:.6f}, localization {loc:.6f}")
    doc = {
        "source": "scripts/detection/ssd_loss_reference.py (NumPy, from NVIDIA's TF Object Detection API code)",
        "image_height": IMAGE_H,
        "image_width": IMAGE_W,
        "anchor_options": ANCHOR_OPTIONS,
        "num_classes": NUM_CLASSES,
        "focal_alpha": ALPHA,
        "focal_gamma": GAMMA,
        "smooth_l1_delta": DELTA,
        "anchors": [short(row, 9) for row in anchors],
        "images": IMAGES,
        "logits": [short(x, 9) for x in logits],
        "box_codes": [short(x, 9) for x in codes],
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({a} anchors, {n} images)")


if __name__ == "__main__":
    main()
