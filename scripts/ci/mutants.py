#!/usr/bin/env python3
"""The mutant list and runner behind scripts/ci/mutants.sh (see there).

Each mutant replaces one exact snippet of a source file (it must occur exactly once, so a list
that drifted from the code fails loudly), names the test binaries to rebuild and the CTest
regex to run. A mutant is caught when a test fails (or, reported apart, when it does not
compile); a survivor is a mistake the tests cannot see."""
import argparse
import os
import subprocess
import sys
import time

SLOW = "FashionMnist"  # the one-epoch accuracy test: too coarse to be the net, and 100 s

TRAIN = (["train_tests"], r"^train\.")
TASK = (["tasks_tests"], r"^tasks\.")
OPS = (["ops_tests"], r"^ops\.")
# The detection layer: its kernels (through the ops), models/detectors, and the box geometry of
# the data pipeline.
DETECTION_OPS = (["ops_detection_tests"], r"^ops\.DetectionLoss")
DETECTORS = (["models_detection_tests"], r"^models\.(Anchors|ArgmaxMatcher|Postprocess|SsdLoss|TargetAssigner)")
# Box arithmetic: its own golden tests (IoU, coder, NMS incl. ONNX's cases) and the detectors'.
BOX_OPS = (["kernels_cpu_tests", "models_detection_tests"],
           r"^(kernels_cpu\.|models\.(Postprocess|SsdLoss|TargetAssigner))")
BOX_GEOMETRY = (["data_tests"], r"^data\.(BoxOps|DetectionCrop|DetectionTransform|DistortedBoundingBox)")
# CUDA kernels, run by the emulator against the CPU backend.
CUDA = (["cuda_emu_tests"], r"^cuda_emu\.(CudaDetectionLoss|CudaMomentumSgd|CudaNms|CudaBoxOps)")

MUTANTS = [
    # --- src/train/optimizer.cpp
    # --- src/kernels/cpu/optimizer.cpp (the step src/train/optimizer.cpp launches)
    ("sgd-half-weight-decay", "src/kernels/cpu/optimizer.cpp",
     "const float g = grad[i] + wd * w[i];", "const float g = grad[i] + 0.5f * wd * w[i];", TRAIN),
    ("sgd-dampened-momentum", "src/kernels/cpu/optimizer.cpp",
     "const float a = momentum * accum[i] + g;", "const float a = momentum * accum[i] + (1.f - momentum) * g;", TRAIN),
    ("sgd-nesterov-ignored", "src/kernels/cpu/optimizer.cpp",
     "w[i] -= lr * (nesterov ? g + momentum * a : a);", "w[i] -= lr * a;", TRAIN),
    ("sgd-biases-always-decayed", "src/train/optimizer.cpp",
     "decay = o.decay_biases;", "decay = true;", TRAIN),
    ("sgd-norm-params-always-decayed", "src/train/optimizer.cpp",
     "decay = o.decay_norm_params;", "decay = true;", TRAIN),
    ("sgd-no-version-bump", "src/train/optimizer.cpp",
     "  store_.bump_version();\n", "", TRAIN),
    # --- src/train/lr_schedule.cpp
    ("lr-cosine-0.9pi", "src/train/lr_schedule.cpp",
     "std::cos(std::numbers::pi * progress)", "std::cos(0.9 * std::numbers::pi * progress)", TRAIN),
    ("lr-not-zero-after-total", "src/train/lr_schedule.cpp",
     "if (step > s.total_steps) return 0.0;", "if (step > s.total_steps + 1) return 0.0;", TRAIN),
    ("lr-warmup-one-step-ahead", "src/train/lr_schedule.cpp",
     "(s.base - s.warmup_lr) * static_cast<double>(step) /",
     "(s.base - s.warmup_lr) * static_cast<double>(step + 1) /", TRAIN),
    ("lr-hold-ignored", "src/train/lr_schedule.cpp",
     "if (s.hold_steps > 0 && step <= flat) return s.base;", "", TRAIN),
    ("lr-nvidia-cosine-after-warmup", "src/train/lr_schedule.cpp",
     "std::cos(std::numbers::pi * static_cast<double>(step) / s.total_steps)",
     "std::cos(std::numbers::pi * static_cast<double>(step - s.warmup_steps) / (s.total_steps - s.warmup_steps))",
     TRAIN),
    ("lr-exponential-no-staircase", "src/train/lr_schedule.cpp",
     "if (s.staircase) exponent = std::floor(exponent);", "", TRAIN),
    ("lr-exponential-no-floor", "src/train/lr_schedule.cpp",
     "return std::max(s.base * std::pow(s.decay_factor, exponent), s.min_lr);",
     "return s.base * std::pow(s.decay_factor, exponent);", TRAIN),
    ("lr-manual-boundary-exclusive", "src/train/lr_schedule.cpp",
     "std::upper_bound(b.begin(), b.end(), step)", "std::lower_bound(b.begin(), b.end(), step)", TRAIN),
    # --- src/train/loss_scaler.cpp
    ("scaler-grows-one-step-late", "src/train/loss_scaler.cpp",
     "if (++good_steps_ >= options_.growth_interval)", "if (++good_steps_ > options_.growth_interval)", TRAIN),
    ("scaler-backs-off-by-a-quarter", "src/train/loss_scaler.cpp",
     "scale_ * options_.backoff_factor)", "scale_ * options_.backoff_factor * options_.backoff_factor)", TRAIN),
    ("scaler-overflow-keeps-count", "src/train/loss_scaler.cpp",
     "    good_steps_ = 0;\n    ++skipped_;", "    ++skipped_;", TRAIN),
    ("scaler-no-min", "src/train/loss_scaler.cpp",
     "std::max(options_.min_scale, scale_ * options_.backoff_factor)", "scale_ * options_.backoff_factor", TRAIN),
    ("scaler-no-max", "src/train/loss_scaler.cpp",
     "std::min(options_.max_scale, scale_ * options_.growth_factor)", "scale_ * options_.growth_factor", TRAIN),
    ("scaler-no-unscale", "src/train/loss_scaler.cpp",
     "math::unscale_and_check_finite(grads, static_cast<float>(1.0 / scale_), squared_norm != nullptr);",
     "math::unscale_and_check_finite(grads, 1.f, squared_norm != nullptr);", TRAIN),
    ("unscale-skipped-in-kernel", "src/kernels/cpu/optimizer.cpp",
     "if (scale) grads[i] *= inv_scale;", "", TRAIN),
    ("finite-check-misses-nan", "src/kernels/cpu/optimizer.cpp",
     "bad |= !std::isfinite(grads[i]);", "bad |= std::isinf(grads[i]);", TRAIN),
    # --- src/train/trainer.cpp and checkpoint.cpp
    ("clip-inverted", "src/train/trainer.cpp",
     "options_.clip_gradient_norm / r.grad_norm", "r.grad_norm / options_.clip_gradient_norm", TRAIN),
    ("clip-norm-after-clipping", "src/train/trainer.cpp",
     "math::scale_(grads, static_cast<float>(options_.clip_gradient_norm / r.grad_norm));",
     "math::scale_(grads, static_cast<float>(options_.clip_gradient_norm / r.grad_norm)), "
     "r.grad_norm = options_.clip_gradient_norm;", TRAIN),
    ("overflow-still-applied", "src/train/trainer.cpp",
     "r.applied = scaler_.unscale_and_check(grads, &squared_norm) && std::isfinite(r.loss);",
     "r.applied = (scaler_.unscale_and_check(grads, &squared_norm), true);", TRAIN),
    ("checkpoint-forgets-good-steps", "src/train/checkpoint.cpp",
     's.loss_scale_good_steps = meta_int(file.metadata, "loss_scale_good_steps", path);',
     's.loss_scale_good_steps = 0;', TRAIN),
    ("checkpoint-drops-momentum", "src/train/checkpoint.cpp",
     "if (optimizer_state) tensors.push_back({kOptimizer, optimizer_state->to(Device::cpu())});",
     "if (optimizer_state) tensors.push_back({kOptimizer, Tensor::zeros(optimizer_state->shape(), DType::F32)});",
     TRAIN),
    # --- the classification task (src/tasks)
    ("mixup-pairs-neighbours", "src/tasks/mixup.cpp",
     "const int64_t j = n - 1 - i;", "const int64_t j = (i + 1) % n;", TASK),
    ("mixup-beta-a-1", "src/tasks/mixup.cpp",
     "rng.beta(alpha, alpha)", "rng.beta(alpha, 1.0)", TASK),
    ("mixup-targets-unsmoothed", "src/tasks/mixup.cpp",
     "on = 1.f - smoothing;", "on = 1.f;", TASK),
    ("task-ignores-smoothing", "src/tasks/classification_task.cpp",
     "classifier_.label_smoothing());", "0.f);", TASK),
    # --- src/kernels/cpu and src/ops
    ("relu6-clamps-at-5.5", "src/kernels/cpu/activation.cpp",
     "(v > 6.f ? 6.f : v)", "(v > 5.5f ? 5.5f : v)", OPS),
    ("swish-grad-drops-term", "src/kernels/cpu/activation.cpp",
     "s * (1.f + v * (1.f - s))", "s * (1.f + v * s)", OPS),
    ("smoothing-off-by-half", "src/kernels/cpu/softmax_cross_entropy.cpp",
     "labels[row] == j ? 1.f - smoothing + off : off", "labels[row] == j ? 1.f - smoothing + 0.5f * off : off", OPS),
    ("ce-grad-not-averaged", "src/ops/loss.cpp",
     "dy.item() / static_cast<double>(n)", "dy.item()", OPS),
    ("bn-running-mean-momentum-swapped", "src/kernels/cpu/batchnorm.cpp",
     "running_mean[c] = momentum * running_mean[c] + (1.f - momentum) * mean[c];",
     "running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mean[c];", OPS),
    ("bn-running-var-biased", "src/kernels/cpu/batchnorm.cpp",
     "(1.f - momentum) * var[c] * unbias;", "(1.f - momentum) * var[c];", OPS),
    ("bn-eps-outside-sqrt", "src/kernels/cpu/batchnorm.cpp",
     "invstd[c] = 1.f / std::sqrt(var[c] + epsilon);", "invstd[c] = 1.f / (std::sqrt(var[c]) + epsilon);", OPS),
    ("avgpool-ignores-padding-rule", "src/kernels/cpu/pooling.cpp",
     "if (!include_pad) return (he - hs) * (we - ws);", "return (he - hs) * (we - ws);", OPS),
    ("tape-leaf-overwrites", "src/ops/tape.cpp",
     "    else math::add_(slot.grad, g);\n", "    else slot.grad.copy_from(g);\n", OPS),
    # --- the detection layer
    ("focal-alpha-swapped", "src/kernels/cpu/detection_losses.cpp",
     "const float a = use_alpha ? t * alpha + (1.f - t) * (1.f - alpha) : 1.f;",
     "const float a = use_alpha ? t * (1.f - alpha) + (1.f - t) * alpha : 1.f;", DETECTION_OPS),
    ("focal-grad-drops-modulating-term", "src/kernels/cpu/detection_losses.cpp",
     "grad = a * (derivative * dq * ce + power * (p - t));", "grad = a * power * (p - t);", DETECTION_OPS),
    ("smooth-l1-no-half", "src/kernels/cpu/detection_losses.cpp",
     "row += static_cast<double>(0.5f * quadratic * quadratic + delta * linear);",
     "row += static_cast<double>(quadratic * quadratic + delta * linear);", DETECTION_OPS),
    ("iou-union-counts-overlap-twice", "src/kernels/cpu/box_ops.cpp",
     "out[t] = inter / (area_p + area_q - inter);", "out[t] = inter / (area_p + area_q);", BOX_OPS),
    ("decode-height-from-width", "src/kernels/cpu/box_ops.cpp",
     "b[0] = yc - h / 2.f;", "b[0] = yc - w / 2.f;", BOX_OPS),
    ("encode-no-epsilon", "src/kernels/cpu/box_ops.cpp",
     "      ha += kEpsilon;\n", "", BOX_OPS),
    ("nms-suppresses-at-threshold", "src/kernels/cpu/box_ops.cpp",
     "if (nms_iou(box, boxes[*it]) > iou_threshold) {", "if (nms_iou(box, boxes[*it]) >= iou_threshold) {",
     BOX_OPS),
    ("matcher-between-becomes-negative", "src/models/detectors/argmax_matcher.cpp",
     "const int32_t between = o.negatives_lower_than_unmatched ? kIgnored : kUnmatched;",
     "const int32_t between = kUnmatched;", DETECTORS),
    ("matcher-force-match-highest-row-wins", "src/models/detectors/argmax_matcher.cpp",
     "for (int64_t r = rows - 1; r >= 0; --r) {", "for (int64_t r = 0; r < rows; ++r) {", DETECTORS),
    ("anchors-ratio-inverted", "src/models/detectors/anchors.cpp",
     "const float h = basis_scale[b] / basis_sqrt_ratio[b] * base;",
     "const float h = basis_scale[b] * basis_sqrt_ratio[b] * base;", DETECTORS),
    ("anchors-offset-always-half-stride", "src/models/detectors/anchors.cpp",
     "const float offset_y = image_height % stride_px == 0 || image_height == 1 ? stride / 2.f : 0.f;",
     "const float offset_y = stride / 2.f;", DETECTORS),
    ("loss-normalizer-not-clamped", "src/models/detectors/ssd_loss.cpp",
     "std::max(static_cast<double>(targets.num_positives), 1.0)", "static_cast<double>(targets.num_positives)",
     DETECTORS),
    ("flip-keeps-xmin", "src/data/box_ops.cpp",
     "const float xmin = 1.0f - b.xmax, xmax = 1.0f - b.xmin;", "const float xmin = b.xmin, xmax = 1.0f - b.xmin;",
     BOX_GEOMETRY),
    # --- CUDA kernels (emulated)
    ("cuda-sgd-half-weight-decay", "src/kernels/cuda/momentum_sgd.cu",
     "const float gi = g + wd * w;", "const float gi = g + 0.5f * wd * w;", CUDA),
    ("cuda-focal-alpha-swapped", "src/kernels/cuda/detection_losses.cu",
     "const float a = use_alpha ? t * alpha + (1.f - t) * (1.f - alpha) : 1.f;",
     "const float a = use_alpha ? t * (1.f - alpha) + (1.f - t) * alpha : 1.f;", CUDA),
]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("filter", nargs="?", default="", help="run only mutants whose name contains this")
    a = ap.parse_args()
    chosen = [m for m in MUTANTS if a.filter in m[0]]

    def build_and_test(targets, regex):
        b = run(["ninja", "-C", a.build, *targets])
        if b.returncode != 0:
            return "build", b.stdout[-2000:]
        t = run(["ctest", "--test-dir", a.build, "-R", regex, "-E", SLOW, "-j", "2", "--timeout", "300"])
        return ("pass" if t.returncode == 0 else "fail"), t.stdout[-3000:]

    # The unmutated tree must pass, or every mutant would look caught.
    for targets, regex in {(tuple(m[4][0]), m[4][1]) for m in chosen}:
        status, log = build_and_test(list(targets), regex)
        if status != "pass":
            sys.exit(f"mutants: the unmutated tests {regex} do not pass:\n{log}")

    rows = []
    for name, path, original, replacement, (targets, regex) in chosen:
        full = os.path.join(a.root, path)
        with open(full) as f:
            text = f.read()
        if text.count(original) != 1:
            rows.append((name, path, "STALE", f"snippet found {text.count(original)} times"))
            continue
        start = time.time()
        try:
            with open(full, "w") as f:
                f.write(text.replace(original, replacement))
            status, log = build_and_test(targets, regex)
        finally:
            with open(full, "w") as f:
                f.write(text)
        verdict = {"fail": "caught", "build": "caught (does not compile)", "pass": "SURVIVED"}[status]
        # ctest's summary lines: "    221 - train.Suite.Name (Failed)"
        failed = [line.split(" - ", 1)[1].split()[0] for line in log.splitlines()
                  if " - " in line and "(Failed)" in line]
        detail = ", ".join(failed[:3]) if failed else ""
        rows.append((name, path, verdict, f"{detail} ({time.time() - start:.0f} s)"))
        print(f"{verdict:26} {name:34} {detail}", flush=True)
    # Leave the build matching the restored sources.
    run(["ninja", "-C", a.build])

    caught = sum(r[2].startswith("caught") for r in rows)
    print(f"\n| mutant | file | result | detail |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
    print(f"\nmutants: {len(rows)} planted, {caught} caught, {len(rows) - caught} not caught")
    sys.exit(0 if caught == len(rows) else 1)


if __name__ == "__main__":
    main()
