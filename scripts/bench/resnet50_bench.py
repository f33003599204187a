#!/usr/bin/env python3
"""ResNet-50 v1.5 training and inference on the CPU: `trainer --mode benchmark` against
torchvision's resnet50 in PyTorch (channels_last, the same batch, threads and recipe: momentum
SGD 0.875 with weight decay, label smoothing 0.1), measured in one run.

    scripts/bench/resnet50_bench.py [--precision fp32|bf16] [--batch 32] [--warmup 3] [--steps 10] [--threads N]

--precision bf16: trainer with `precision { compute_dtype: BF16 }` against PyTorch's
`torch.autocast("cpu", dtype=torch.bfloat16)` around the forward pass and the loss (f32 master
weights on both sides); the jit-frozen inference peer is fp32 only.

Both sides time each step after the warm-up steps; each side runs twice in alternation (trainer,
peers, trainer, peers: bench_env.alternate) and the table gives the median, min and max over all
measured steps with the ratio of the medians. Each framework runs in its own process so peak RSS
(ru_maxrss) is its own; trainer's is read when its training phase ends. Inference is eval mode:
trainer folds batchnorm into the convolutions; PyTorch runs eager (as users run it) and, as a
second peer, torch.jit's optimize_for_inference (which also folds batchnorm)."""
import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_env  # noqa: E402

bench_env.ensure_peers(["torch", "torchvision"])

PEER = r'''
import json, resource, sys
import torch, torchvision
import peer_models
mode, batch, warmup, steps, threads = sys.argv[1], *map(int, sys.argv[2:6])
bf16 = sys.argv[6] == "bf16"
autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
torch.set_num_threads(threads)
torch.manual_seed(0)
model, x, y = peer_models.resnet50(batch)
if mode == "train":
    model.train()
    opt, loss_fn = peer_models.resnet50_training(model)
    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
else:
    model.eval()
    if mode == "infer_jit":
        with torch.no_grad():
            model = torch.jit.optimize_for_inference(torch.jit.script(model))
    def step():
        with torch.no_grad(), autocast():
            model(x)
rates, latency = peer_models.timed_steps(step, batch, warmup, steps)
print(json.dumps({"imgs_per_sec": rates, "latency_ms": latency,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "torch": torch.__version__, "torchvision": torchvision.__version__}))
'''


def run_peer(mode, a):
    out = subprocess.run([sys.executable, "-c", PEER, mode, str(a.batch), str(a.warmup), str(a.steps), str(a.threads),
                          a.precision],
                         check=True, capture_output=True, text=True, env=bench_env.peer_environment()).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_trainer(build_dir, a):
    override = (f"train_config {{ batch_size: {a.batch} }} benchmark {{ warmup_steps: {a.warmup} steps: {a.steps} "
                f"inference_warmup_steps: {a.warmup} inference_steps: {a.steps} }} "
                f"runtime {{ num_threads: {a.threads} }} precision {{ compute_dtype: {a.precision.upper()} }}")
    steps, _, out = bench_env.trainer_benchmark(build_dir, "configs/resnet50_v1_5.pbtxt", override)
    # training's peak: the process's RSS when training ended (inference needs less)
    steps["train_rss_mib"] = float(re.search(r"after training ([\d.]+)", out).group(1))
    return steps


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    if a.steps < bench_env.MIN_STEPS:
        sys.exit(f"resnet50_bench: --steps {a.steps}: at least {bench_env.MIN_STEPS} measured steps per run")
    build_dir = bench_env.build(["trainer"])
    print(f"machine: {bench_env.machine()}; {a.threads} threads; batch {a.batch}; {a.warmup} warm-up + {a.steps} "
          f"measured steps per run, {bench_env.ROUNDS} alternating runs per side; {a.precision}")
    sides = [("trainer", lambda: run_trainer(build_dir, a)),
             ("PyTorch train", lambda: run_peer("train", a)),
             ("PyTorch infer", lambda: run_peer("infer", a))]
    if a.precision == "fp32":
        sides.append(("PyTorch infer (jit)", lambda: run_peer("infer_jit", a)))
    runs = bench_env.alternate(sides)
    ours, peer_train, peer_infer = runs["trainer"], runs["PyTorch train"], runs["PyTorch infer"]
    print(f"PyTorch {peer_train['torch'][0]}, torchvision {peer_train['torchvision'][0]}")
    rows = [("train imgs/sec", ours["train.imgs_per_sec"], peer_train["imgs_per_sec"]),
            ("infer imgs/sec (eager peer)", ours["infer.imgs_per_sec"], peer_infer["imgs_per_sec"])]
    if "PyTorch infer (jit)" in runs:
        rows.append(("infer imgs/sec (jit-frozen peer)", ours["infer.imgs_per_sec"],
                     runs["PyTorch infer (jit)"]["imgs_per_sec"]))
    rows += [("infer latency ms (eager peer)", ours["infer.latency_ms"], peer_infer["latency_ms"]),
             ("train peak RSS MiB", ours["train_rss_mib"], peer_train["peak_rss_mib"])]
    bench_env.print_table("PyTorch", rows)


if __name__ == "__main__":
    main()
