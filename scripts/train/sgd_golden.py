#!/usr/bin/env python3
"""Writes tests/train/data/sgd_golden.json: momentum SGD trajectories computed by PyTorch's
torch.optim.SGD, the independent reference of tests/train/optimizer_test.cpp.

    scripts/train/sgd_golden.py

torch.optim.SGD (dampening 0) and TF1's tf.train.MomentumOptimizer compute the same update,
  accum = momentum * accum + (g + wd * w);   w -= lr * accum
  Nesterov: w -= lr * ((g + wd * w) + momentum * accum)
with the learning rate outside the accumulator, so one set of trajectories checks both. (Keras'
SGD, used by TF2 configs, keeps lr inside the velocity, v = m * v - lr * g; w += v: the same
numbers while lr is constant, different while it changes.)

Each case has parameters with roles (weight, bias, batchnorm scale/shift) in torch parameter
groups whose weight decay follows the case's rules, a learning rate per step that changes
(warm-up, decay, a zero), random gradients per step, and the weights and momentum buffers
after every step. Decays and rates are large so that a mistake shows in the 3rd digit.
PyTorch comes from .venv-bench (scripts/bench/bench_env.py installs it)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import bench_env  # noqa: E402

bench_env.ensure_peers(["torch"])
import torch  # noqa: E402

OUT = os.path.join(bench_env.ROOT, "tests", "train", "data", "sgd_golden.json")
PARAMS = [  # name, shape, role
    ("conv.weight", [4, 3, 3, 2], "weight"),
    ("bn.gamma", [4], "norm_scale"),
    ("bn.beta", [4], "norm_shift"),
    ("fc.weight", [3, 4], "weight"),
    ("fc.bias", [3], "bias"),
]
CASES = [
    # NVIDIA's ResNet-50 recipe: momentum 0.875, decay on all but batchnorm (biases decayed).
    dict(name="resnet_recipe", momentum=0.875, nesterov=False, weight_decay=0.05, decay_norm=False,
         decay_bias=True, lrs=[0.0, 0.1, 0.3, 0.25, 0.0, 0.05]),
    # Nesterov, decay on weights only.
    dict(name="nesterov_weights_only", momentum=0.9, nesterov=True, weight_decay=0.02, decay_norm=False,
         decay_bias=False, lrs=[0.2, 0.2, 0.1, 0.4, 0.05]),
    # Decay on everything, no momentum: plain SGD with L2.
    dict(name="plain_decay_all", momentum=0.0, nesterov=False, weight_decay=0.1, decay_norm=True,
         decay_bias=True, lrs=[0.5, 0.25, 0.125]),
]


def decayed(role, case):
    if role in ("norm_scale", "norm_shift"):
        return case["decay_norm"]
    if role == "bias":
        return case["decay_bias"]
    return True


def run(case, gen):
    tensors = [torch.randn(*shape, generator=gen, dtype=torch.float32) for _, shape, _ in PARAMS]
    params = [torch.nn.Parameter(t.clone()) for t in tensors]
    groups = [{"params": [p], "weight_decay": case["weight_decay"] if decayed(role, case) else 0.0}
              for p, (_, _, role) in zip(params, PARAMS)]
    opt = torch.optim.SGD(groups, lr=1.0, momentum=case["momentum"], nesterov=case["nesterov"], dampening=0.0)
    steps = []
    for lr in case["lrs"]:
        grads = [torch.randn(*shape, generator=gen, dtype=torch.float32) for _, shape, _ in PARAMS]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        buffers = [opt.state[p].get("momentum_buffer") for p in params]
        steps.append({
            "lr": lr,
            "grads": [g.flatten().tolist() for g in grads],
            "weights": [p.detach().flatten().tolist() for p in params],
            # torch keeps no buffer without momentum (TF's accumulator then holds g: compare none)
            "momentum": None if case["momentum"] == 0 else [b.flatten().tolist() for b in buffers],
        })
    out = dict(case)
    out["initial"] = [t.flatten().tolist() for t in tensors]
    out["steps"] = steps
    return out


def main():
    gen = torch.Generator().manual_seed(2026)
    doc = {
        "generator": "scripts/train/sgd_golden.py",
        "reference": f"torch.optim.SGD, PyTorch {torch.__version__}",
        "params": [{"name": n, "shape": s, "role": r} for n, s, r in PARAMS],
        "cases": [run(c, gen) for c in CASES],
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
