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

MUTANTS = [
    # --- src/train/optimizer.cpp
    ("sgd-half-weight-decay", "src/train/optimizer.cpp",
     "const float gi = g[i] + wd * w[i];", "const float gi = g[i] + 0.5f * wd * w[i];", TRAIN),
    ("sgd-dampened-momentum", "src/train/optimizer.cpp",
     "const float ai = m * a[i] + gi;", "const float ai = m * a[i] + (1.f - m) * gi;", TRAIN),
    ("sgd-nesterov-ignored", "src/train/optimizer.cpp",
     "w[i] -= lr * (nesterov ? gi + m * ai : ai);", "w[i] -= lr * ai;", TRAIN),
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
     "if (scale_ != 1.0) math::scale_(grads, static_cast<float>(1.0 / scale_));", "", TRAIN),
    # --- src/train/trainer.cpp and checkpoint.cpp
    ("clip-inverted", "src/train/trainer.cpp",
     "options_.clip_gradient_norm / r.grad_norm", "r.grad_norm / options_.clip_gradient_norm", TRAIN),
    ("clip-norm-after-clipping", "src/train/trainer.cpp",
     "math::scale_(grads, static_cast<float>(options_.clip_gradient_norm / r.grad_norm));",
     "math::scale_(grads, static_cast<float>(options_.clip_gradient_norm / r.grad_norm)), "
     "r.grad_norm = options_.clip_gradient_norm;", TRAIN),
    ("overflow-still-applied", "src/train/trainer.cpp",
     "r.applied = scaler_.unscale_and_check(grads) && std::isfinite(r.loss);",
     "r.applied = (scaler_.unscale_and_check(grads), true);", TRAIN),
    ("checkpoint-forgets-good-steps", "src/train/checkpoint.cpp",
     's.loss_scale_good_steps = meta_int(file.metadata, "loss_scale_good_steps", path);',
     's.loss_scale_good_steps = 0;', TRAIN),
    ("checkpoint-drops-momentum", "src/train/checkpoint.cpp",
     "if (optimizer_state) tensors.push_back({kOptimizer, *optimizer_state});",
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
    ("bn-running-mean-momentum-swapped", "src/ops/batchnorm.cpp",
     "rm[c] = o.momentum * rm[c] + (1.f - o.momentum) * m[c];",
     "rm[c] = (1.f - o.momentum) * rm[c] + o.momentum * m[c];", OPS),
    ("bn-running-var-biased", "src/ops/batchnorm.cpp",
     "(1.f - o.momentum) * var[c] * unbias;", "(1.f - o.momentum) * var[c];", OPS),
    ("bn-eps-outside-sqrt", "src/ops/batchnorm.cpp",
     "is[c] = 1.f / std::sqrt(var[c] + o.epsilon);", "is[c] = 1.f / (std::sqrt(var[c]) + o.epsilon);", OPS),
    ("avgpool-ignores-padding-rule", "src/kernels/cpu/pooling.cpp",
     "if (!include_pad) return (he - hs) * (we - ws);", "return (he - hs) * (we - ws);", OPS),
    ("tape-leaf-overwrites", "src/ops/tape.cpp",
     "    else math::add_(slot.grad, g);\n", "    else slot.grad.copy_from(g);\n", OPS),
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
