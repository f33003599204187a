#!/usr/bin/env python3
"""ResNet-50 v1.5 training and inference on the CPU: `trainer --mode benchmark` against
torchvision's resnet50 in PyTorch (channels_last, fp32, the same batch, threads and recipe:
momentum SGD 0.875 with weight decay, label smoothing 0.1), measured in one run.

    scripts/bench/resnet50_bench.py [--batch 32] [--warmup 3] [--steps 10] [--threads N]

Both sides time each step after the warm-up steps and report the mean of per-step
images/second (NVIDIA's benchmark method); each framework runs in its own process so peak RSS
(ru_maxrss) is its own; trainer's is read when its training phase ends. Inference is eval mode: trainer folds batchnorm into the convolutions;
PyTorch runs eager (as users run it) and, as a second peer, torch.jit's optimize_for_inference
(which also folds batchnorm)."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_env  # noqa: E402

bench_env.ensure_peers(["torch", "torchvision"])

PEER = r'''
import json, resource, sys, time, statistics
import torch, torchvision
mode, batch, warmup, steps, threads = sys.argv[1], *map(int, sys.argv[2:6])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = torchvision.models.resnet50(num_classes=1000).to(memory_format=torch.channels_last)
x = torch.randn(batch, 3, 224, 224).to(memory_format=torch.channels_last)
y = torch.randint(0, 1000, (batch,))
rates = []
if mode == "train":
    model.train()
    decay = [p for n, p in model.named_parameters() if "bn" not in n and "downsample.1" not in n]
    rest = [p for n, p in model.named_parameters() if "bn" in n or "downsample.1" in n]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 1 / 32768}, {"params": rest, "weight_decay": 0}],
                          lr=0.1, momentum=0.875)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
else:
    model.eval()
    if mode == "infer_jit":
        with torch.no_grad():
            model = torch.jit.optimize_for_inference(torch.jit.script(model))
    def step():
        with torch.no_grad():
            model(x)
latency = []
for i in range(warmup + steps):
    t = time.perf_counter(); step(); dt = time.perf_counter() - t
    if i >= warmup:
        rates.append(batch / dt); latency.append(dt * 1e3)
print(json.dumps({"imgs_per_sec": statistics.mean(rates), "p50_ms": statistics.median(latency),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "torch": torch.__version__, "torchvision": torchvision.__version__}))
'''


def run_peer(mode, a):
    out = subprocess.run([sys.executable, "-c", PEER, mode, str(a.batch), str(a.warmup), str(a.steps), str(a.threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_trainer(build_dir, a):
    override = (f"train_config {{ batch_size: {a.batch} }} benchmark {{ warmup_steps: {a.warmup} steps: {a.steps} "
                f"inference_warmup_steps: {a.warmup} inference_steps: {a.steps} }} "
                f"runtime {{ num_threads: {a.threads} }}")
    with tempfile.NamedTemporaryFile(suffix=".json") as log:
        out = subprocess.run([os.path.join(build_dir, "trainer"), "--config", "configs/resnet50_v1_5.pbtxt", "--mode",
                              "benchmark", "--override", override, "--log-json", log.name],
                             cwd=bench_env.ROOT, check=True, capture_output=True, text=True).stdout
        metrics = json.loads(open(log.name).read().strip().splitlines()[-1])["data"]
    # training's peak: the process's RSS when training ended (inference needs less)
    rss = float(re.search(r"after training ([\d.]+)", out).group(1))
    return metrics, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    build_dir = bench_env.build(["trainer"])
    print(f"machine: {bench_env.machine()}; {a.threads} threads; batch {a.batch}; {a.warmup} warm-up + {a.steps} "
          "measured steps; fp32")
    ours, ours_train_rss = run_trainer(build_dir, a)
    peer_train = run_peer("train", a)
    peer_infer = run_peer("infer", a)
    peer_jit = run_peer("infer_jit", a)
    print(f"PyTorch {peer_train['torch']}, torchvision {peer_train['torchvision']}")
    rows = [
        ("train imgs/sec", ours["train.imgs_per_sec"], peer_train["imgs_per_sec"], True),
        ("infer imgs/sec (eager peer)", ours["infer.imgs_per_sec"], peer_infer["imgs_per_sec"], True),
        ("infer imgs/sec (jit-frozen peer)", ours["infer.imgs_per_sec"], peer_jit["imgs_per_sec"], True),
        ("infer p50 latency ms (eager peer)", ours["infer.latency_ms.p50"], peer_infer["p50_ms"], False),
        ("train peak RSS MiB", ours_train_rss, peer_train["peak_rss_mib"], False),
    ]
    print(f"{'metric':34} {'trainer':>10} {'PyTorch':>10} {'ratio':>7}")
    for name, ours, theirs, higher_better in rows:
        ratio = ours / theirs
        print(f"{name:34} {ours:10.2f} {theirs:10.2f} {ratio:6.2f}x")
    print("ratio = trainer / PyTorch (throughput: > 1 is faster; memory: < 1 is smaller)")


if __name__ == "__main__":
    main()
