"""Checks a model `trainer export` wrote against what `trainer --mode predict` printed for the
same image (tests/cli/export_test.cpp runs it with the test venv's onnx and onnxruntime).

  onnx_check.py classification MODEL INPUT PREDICT_OUT [NAME=RAW]...
  onnx_check.py detection MODEL INPUT PREDICT_OUT WIDTH HEIGHT CLASSES FRAC_Y FRAC_X YS XS HS WS [NAME=RAW]...

INPUT is the preprocessed image as raw little-endian float32 [1, H, W, C] (what predict fed the
network); PREDICT_OUT is predict's stdout. Detection: the original image's WIDTH x HEIGHT, the
model's number of CLASSES, the part of the input the image fills (FRAC_Y, FRAC_X: 1 unless the
resizer padded) and the box coder's scales. NAME=RAW: the trainer's own forward's output NAME for the same input, raw float32, which
the graph's must equal to float rounding. Every check prints one line; any failure exits 1.
The ONNX model also runs a batch of two (the image and its negative) to show the batch
dimension is symbolic: each sample's outputs equal the single image's.
"""
import re
import sys

import numpy as np
import onnx
import onnxruntime as ort

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(model_path, image):
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    check(True, "onnx.checker.check_model(full_check=True), opset %d, %d nodes"
          % (model.opset_import[0].version, len(model.graph.node)))
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    single = dict(zip(names, session.run(None, {"images": image})))
    pair = dict(zip(names, session.run(None, {"images": np.concatenate([image, -image])})))
    negative = dict(zip(names, session.run(None, {"images": -image})))
    for name in names:
        if name == "anchors":
            continue
        same = (np.allclose(pair[name][:1], single[name], rtol=1e-4, atol=1e-5)
                and np.allclose(pair[name][1:], negative[name], rtol=1e-4, atol=1e-5))
        check(same, "batch of 2: %s %s per sample as run alone" % (name, pair[name].shape))
    return single


def compare_raw(outputs, references):
    """The graph's outputs against the trainer's (NAME=PATH raw float32 files)."""
    for reference in references:
        name, path = reference.split("=", 1)
        want = np.fromfile(path, dtype="<f4").reshape(outputs[name].shape)
        gap = np.abs(outputs[name] - want).max()
        scale = np.abs(want).max()
        # Different summation orders (oneDNN's Winograd and direct kernels against onnxruntime's)
        # differ in the last bits of each f32 convolution.
        check(gap <= 1e-4 * max(scale, 1.0), "%s: max |onnxruntime - trainer| %.2e (values up to %.3g)"
              % (name, gap, scale))


def classification(model_path, image, predicted, references):
    out = run(model_path, image)
    compare_raw(out, references)
    logits = out["logits"][0].astype(np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")[:5]
    # predict: "FILE: c (0.1234) c (0.0987) ..." (class id, optional name, probability)
    printed = [(int(c), float(q)) for c, q in re.findall(r" (\d+)(?: \S+)? \((\d\.\d+)\)", predicted)]
    check(len(printed) == len(order), "predict printed %d classes, the graph has %d" % (len(printed), len(order)))
    for c, q in printed:
        # The 4 printed decimals round: half a unit in the last place, plus float noise.
        check(abs(p[c] - q) <= 0.5e-4 + 1e-6, "class %d: predict %.4f, onnxruntime %.7f" % (c, q, p[c]))
    # The printed classes are the graph's top ones (ties within float noise may swap places).
    got = [p[c] for c, _ in printed]
    check(all(a >= b - 1e-6 for a, b in zip(got, got[1:])) and got[-1] >= p[order[-1]] - 1e-6,
          "predict's classes are the graph's top %d" % len(order))


def iou(boxes, b):
    """IoU of each row of boxes [K, 4] with box b, all [ymin, xmin, ymax, xmax]."""
    ih = np.clip(np.minimum(boxes[:, 2], b[2]) - np.maximum(boxes[:, 0], b[0]), 0, None)
    iw = np.clip(np.minimum(boxes[:, 3], b[3]) - np.maximum(boxes[:, 1], b[1]), 0, None)
    inter = ih * iw
    union = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def detection(model_path, image, predicted, width, height, num_classes, fraction, scales, references):
    out = run(model_path, image)
    compare_raw(out, references)
    codes, logits, anchors = out["box_codes"][0], out["class_logits"][0], out["anchors"]
    check(codes.shape[0] == anchors.shape[0] == logits.shape[0],
          "%d anchors, %d box codes, %d class rows" % (anchors.shape[0], codes.shape[0], logits.shape[0]))
    # The graph's decoded boxes and scores against the Faster R-CNN box coder's decode
    # (models/detectors/postprocess.h) and the sigmoid, done here on its raw outputs.
    ha, wa = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    yc = codes[:, 0] / scales[0] * ha + anchors[:, 0] + ha / 2
    xc = codes[:, 1] / scales[1] * wa + anchors[:, 1] + wa / 2
    h, w = np.exp(codes[:, 2] / scales[2]) * ha, np.exp(codes[:, 3] / scales[3]) * wa
    decoded = np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], 1)
    gap = np.abs(out["boxes"][0] - decoded).max()
    check(gap < 1e-5, "the graph's decoded boxes: max |difference| %.1e from decoding its box codes" % gap)
    scores = 1 / (1 + np.exp(-logits.astype(np.float64)))
    gap = np.abs(out["scores"][0] - scores).max()
    check(gap < 1e-6, "the graph's scores: max |difference| %.1e from the sigmoid of its logits" % gap)
    # Clipped to the part of the input the image fills and moved into original-image pixels.
    limit = np.array([fraction[0], fraction[1], fraction[0], fraction[1]], np.float32)
    boxes = np.clip(out["boxes"][0], 0, limit) / limit
    boxes *= np.array([height, width, height, width], np.float32)
    scores = out["scores"][0]
    background = logits.shape[1] == num_classes + 1  # add_background_class: slot 0, then ids 1..
    # predict: "  NAME SCORE  x X y Y w W h H" in original-image pixels; NAME is the class id
    # when there is no label map.
    rows = re.findall(r"\n  (.+?) +(\d\.\d+)  x (-?[\d.]+) y (-?[\d.]+) w ([\d.]+) h ([\d.]+)", predicted)
    check(len(rows) > 0, "predict printed %d detections" % len(rows))
    worst_px, worst_score, worst_iou = 0.0, 0.0, 1.0
    for name, score, x, y, bw, bh in rows:
        printed = np.array([float(x), float(y), float(bw), float(bh)])
        score = float(score)
        anchor, klass = np.nonzero(np.abs(scores - score) <= 0.5e-3 + 1e-4)
        if name.isdigit():  # a class id (no label map): the slot must be that class's
            keep = klass == (int(name) if background else int(name) - 1)
            anchor, klass = anchor[keep], klass[keep]
        if anchor.size == 0:
            worst_px = np.inf
            continue
        b = boxes[anchor]
        as_printed = np.stack([b[:, 1], b[:, 0], b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]], 1)
        gap = np.abs(as_printed - printed).max(1)
        best = int(np.argmin(gap))
        worst_px = max(worst_px, float(gap[best]))
        worst_score = max(worst_score, float(abs(scores[anchor[best], klass[best]] - score)))
        x, y, w, h = printed
        worst_iou = min(worst_iou, float(iou(b[best:best + 1], [y, x, y + h, x + w])[0]))
    # Predict prints 3 decimals of score and 1 of pixels: half a unit of each, plus float noise.
    check(worst_px <= 0.06 and worst_score <= 0.5e-3 + 1e-4,
          "every printed detection is an ONNX anchor's decoded box within %.3f px and score within %.1e "
          "(IoU >= %.5f)" % (worst_px, worst_score, worst_iou))
    top = scores[:, 1:].max() if background else scores.max()
    check(abs(top - float(rows[0][1])) <= 0.5e-3 + 1e-4,
          "best score: predict %s, onnxruntime %.6f" % (rows[0][1], top))


def main():
    kind, model_path, input_path, predict_path = sys.argv[1:5]
    predicted = open(predict_path).read()
    session_input = onnx.load(model_path).graph.input[0].type.tensor_type.shape.dim
    shape = [1] + [d.dim_value for d in session_input[1:]]
    image = np.fromfile(input_path, dtype="<f4").reshape(shape)
    if kind == "classification":
        classification(model_path, image, predicted, sys.argv[5:])
    else:
        width, height = int(sys.argv[5]), int(sys.argv[6])
        fraction = [float(v) for v in sys.argv[8:10]]
        detection(model_path, image, predicted, width, height, int(sys.argv[7]), fraction,
                  [float(v) for v in sys.argv[10:14]], sys.argv[14:])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
