#!/usr/bin/env python3
"""SSD320 v1.2 training and inference on the CPU: `trainer --mode benchmark` on NVIDIA's
configs/tfod/ssd320_full_8gpus.config against torchvision's retinanet_resnet50_fpn (the closest
PyPI peer: ResNet-50 + FPN P3-P7, shared 4-conv heads, focal loss) at 320x320, channels_last,
the same batch and threads, in one run.

    scripts/bench/ssd320_bench.py [--precision fp32|bf16] [--batch 8] [--warmup 2] [--steps 10] [--threads N]
                                  [--memory-batch 32]

--precision bf16: trainer with `precision { compute_dtype: BF16 }` against the peer's forward
pass (losses included) under `torch.autocast("cpu", dtype=torch.bfloat16)`; f32 master weights
on both sides.

Both sides time each step after the warm-up; each side runs twice in alternation (trainer,
peer, trainer, peer: bench_env.alternate) and the table gives the median, min and max over all
measured steps with the ratio of the medians. Training: forward, loss (target assignment
included), backward, momentum SGD. Inference: eval-mode forward plus post-processing (decode,
score threshold, NMS) on synthetic images with a few boxes each. Each side runs in its own
process so peak RSS is its own. --memory-batch N also trains trainer at NVIDIA's per-GPU batch
(32) for two steps and reports its peak RSS (the bar: within 16 GiB)."""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_env  # noqa: E402

bench_env.ensure_peers(["torch", "torchvision"])

PEER = r'''
import json, resource, sys, time
import torch, torchvision
import peer_models
mode, batch, warmup, steps, threads = sys.argv[1], *map(int, sys.argv[2:6])
bf16 = sys.argv[6] == "bf16"
autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
torch.set_num_threads(threads)
torch.manual_seed(0)
model, images, targets = peer_models.retinanet(batch)
if mode == "train":
    model.train()
    opt = peer_models.retinanet_optimizer(model)
    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            losses = model(images, targets)
        sum(losses.values()).backward()
        opt.step()
else:
    model.eval()
    def step():
        with torch.no_grad(), autocast():
            model(images)
peer_models.report_timed_steps(mode, model, images, step, batch, warmup, steps, torchvision=torchvision.__version__)
'''

CONFIG = "configs/tfod/ssd320_full_8gpus.config"


def run_peer(mode, a):
    out = subprocess.run([sys.executable, "-c", PEER, mode, str(a.batch), str(a.warmup), str(a.steps), str(a.threads),
                          a.precision], check=True, capture_output=True, text=True,
                         env=bench_env.peer_environment()).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--memory-batch", type=int, default=0, help="also train trainer at this batch and report peak RSS")
    a = ap.parse_args()
    if a.steps < bench_env.MIN_STEPS:
        sys.exit(f"ssd320_bench: --steps {a.steps}: at least {bench_env.MIN_STEPS} measured steps per run")
    build_dir = bench_env.build(["trainer"])
    gflops = bench_env.forward_gflops(build_dir, CONFIG)
    print(f"machine: {bench_env.machine()}; {a.threads} threads; batch {a.batch}; {a.warmup} warm-up + {a.steps} "
          f"measured steps per run, {bench_env.ROUNDS} alternating runs per side; {a.precision}; 320x320")
    runs = bench_env.alternate([
        ("trainer", lambda: bench_env.detection_trainer_run(build_dir, CONFIG, a.batch, a.warmup, a.steps, a.threads,
                                                            a.precision)[0]),
        ("torchvision train", lambda: run_peer("train", a)),
        ("torchvision infer", lambda: run_peer("infer", a)),
    ])
    ours, peer_train, peer_infer = runs["trainer"], runs["torchvision train"], runs["torchvision infer"]
    print(f"PyTorch {peer_train['torch'][0]}, torchvision {peer_train['torchvision'][0]} "
          f"(retinanet_resnet50_fpn, {peer_train['params'][0]:,} parameters; trainer's SSD320: "
          f"{int(ours['parameters'][0]):,})")
    bench_env.print_detection_comparison("torchvision", ours, peer_train, peer_infer, gflops, "SSD320", "RetinaNet")
    if a.memory_batch:
        m = bench_env.detection_trainer_run(build_dir, CONFIG, a.memory_batch, 1, 1, a.threads, a.precision,
                                            inference=False)[0]
        rss = m["train_rss_mib"]
        print(f"trainer at batch {a.memory_batch}: {m['train.imgs_per_sec'][0]:.2f} img/s, peak RSS {rss:.0f} MiB "
              f"({rss / 1024:.1f} GiB)")


if __name__ == "__main__":
    main()
