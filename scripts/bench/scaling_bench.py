#!/usr/bin/env python3
"""Data-parallel scaling on the CPU: ResNet-50 v1.5 and SSD320 trained by `trainer --mode
benchmark` against PyTorch DistributedDataParallel (gloo backend) in the same run, in three
configurations of the same cores, with the same per-process batch:

    1 proc x 1 thread     the baseline
    2 procs x 1 thread    weak scaling: `mpirun -np 2 trainer` against `torchrun --nproc_per_node 2`
    1 proc x 2 threads    strong scaling of the threads inside one process

    scripts/bench/scaling_bench.py [--models resnet50,ssd320] [--resnet-batch 8] [--ssd-batch 4]
                                   [--warmup 2] [--steps 10]

Per configuration it reports the job's training imgs/sec of each side (per-process batch x
processes / step time; a step's time is that of the slowest rank at that step, on both sides),
the ratio trainer / peer, and for each side the weak-scaling efficiency (2 procs' imgs/sec /
(2 x 1 proc's)) and the threads' speed-up (1 x 2 threads against 1 x 1). Training only: fp32,
synthetic data, forward + loss + backward + gradient allreduce + momentum SGD.

Threads: trainer `runtime { num_threads: T }`, the peer `torch.set_num_threads(T)`, and
OMP_NUM_THREADS=T for both. Launchers: `mpirun -np 2 --bind-to none` (not pinned, like
torchrun's workers); one process runs without a launcher on both sides, and the peer's single
process is a plain model (no DDP wrapper), as trainer with one process allreduces nothing. The
peer for ResNet-50 is torchvision's resnet50 with the recipe of resnet50_bench.py; for SSD320,
torchvision's retinanet_resnet50_fpn at 320x320, as in ssd320_bench.py. DDP runs with its
defaults (25 MB buckets overlapping backward, buffers broadcast every forward).

Method (bench_env): every configuration of every side runs in its own process(es), the sides
alternate (trainer, peer, trainer, peer: bench_env.alternate over all six), each run measures
--steps steps after --warmup, and the table gives medians with min-max over all measured steps
of all runs. The batches default to 8 (ResNet-50) and 4 (SSD320) per process: the whole
script took 14 minutes on a 2-core Xeon. With 2 processes on 2 cores the allreduce runs on the
same cores as the compute: it is not hidden, it is paid."""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_env  # noqa: E402

bench_env.ensure_peers(["torch", "torchvision"])

# One rank of the peer (or the single process). argv: model batch warmup steps threads out_dir.
# Writes out_dir/rank<R>.json with its per-step seconds.
PEER = r'''
import json, os, sys, time
import torch, torchvision
import peer_models
model_name, out_dir = sys.argv[1], sys.argv[6]
batch, warmup, steps, threads = map(int, sys.argv[2:6])
torch.set_num_threads(threads)
world = int(os.environ.get("WORLD_SIZE", "1"))
rank = int(os.environ.get("RANK", "0"))
if world > 1:
    torch.distributed.init_process_group("gloo")
torch.manual_seed(0)
if model_name == "resnet50":
    model, x, y = peer_models.resnet50(batch)
    opt, loss_fn = peer_models.resnet50_training(model)
    model.train()
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    def loss():
        return loss_fn(net(x), y)
else:
    model, images, targets = peer_models.retinanet(batch)
    opt = peer_models.retinanet_optimizer(model)
    model.train()
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    def loss():
        return sum(net(images, targets).values())
seconds = []
for i in range(warmup + steps):
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss().backward()
    opt.step()
    dt = time.perf_counter() - t
    if i >= warmup:
        seconds.append(dt)
with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
    json.dump({"seconds": seconds, "torch": torch.__version__, "torchvision": torchvision.__version__}, f)
if world > 1:
    torch.distributed.destroy_process_group()
'''

MODELS = {  # name: (title, trainer config, batch option)
    "resnet50": ("ResNet-50 v1.5, 224x224", "configs/resnet50_v1_5.pbtxt", "resnet_batch"),
    "ssd320": ("SSD320 v1.2 (peer: torchvision retinanet_resnet50_fpn at 320x320)",
               "configs/tfod/ssd320_full_8gpus.config", "ssd_batch"),
}
CONFIGS = [("1 proc x 1 thread", 1, 1), ("2 procs x 1 thread", 2, 1), ("1 proc x 2 threads", 1, 2)]


def environment(threads):
    env = bench_env.peer_environment(OMP_NUM_THREADS=str(threads))
    # mpirun as root on a machine with fewer slots than ranks (the tests launch it the same way)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    return env


def run_trainer(build_dir, config, batch, procs, threads, a):
    override = (f"train_config {{ batch_size: {batch} }} benchmark {{ warmup_steps: {a.warmup} steps: {a.steps} "
                f"inference_warmup_steps: 0 inference_steps: 1 synthetic_data: true }} "
                f"runtime {{ num_threads: {threads} }} precision {{ compute_dtype: FP32 }}")
    launcher = ["mpirun", "-np", str(procs), "--bind-to", "none", "-x", "OMP_NUM_THREADS"] if procs > 1 else []
    steps, metrics, out = bench_env.trainer_benchmark(build_dir, config, override, launcher, environment(threads))
    if metrics.get("processes", 1) != procs or f"processes {procs}" not in out:
        sys.exit(f"scaling_bench: trainer ran {metrics.get('processes')} processes, not {procs}:\n{out}")
    return {"imgs_per_sec": steps["train.imgs_per_sec"]}


def run_peer(peer_file, model, batch, procs, threads, a):
    with tempfile.TemporaryDirectory() as out_dir:
        args = [peer_file, model, str(batch), str(a.warmup), str(a.steps), str(threads), out_dir]
        if procs > 1:
            args = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", *args]
        subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True, env=environment(threads))
        ranks = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(out_dir, "rank*.json")))]
    if len(ranks) != procs:
        sys.exit(f"scaling_bench: the peer wrote {len(ranks)} results for {procs} processes")
    slowest = [max(step) for step in zip(*(r["seconds"] for r in ranks))]  # the slowest rank at each step
    return {"imgs_per_sec": [batch * procs / s for s in slowest], "torch": ranks[0]["torch"],
            "torchvision": ranks[0]["torchvision"]}


def median(values):
    return bench_env.spread(values)[0]


def report(title, batch, runs):
    print(f"\n{title}: batch {batch} per process, fp32, job's training imgs/sec")
    bench_env.print_table("PyTorch DDP", [(name, runs[f"trainer {name}"]["imgs_per_sec"],
                                           runs[f"peer {name}"]["imgs_per_sec"]) for name, _, _ in CONFIGS])
    for side, label in (("trainer", "trainer"), ("peer", "PyTorch DDP")):
        one, two_procs, two_threads = (median(runs[f"{side} {name}"]["imgs_per_sec"]) for name, _, _ in CONFIGS)
        print(f"{label:12} weak-scaling efficiency 2 procs x 1 thread: {two_procs / (2 * one):.2f}  "
              f"(2 procs {two_procs:.2f} / 2 x {one:.2f});  1 proc x 2 threads: speed-up {two_threads / one:.2f}x, "
              f"efficiency {two_threads / (2 * one):.2f};  2 procs / 2 threads: {two_procs / two_threads:.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet50,ssd320", help="comma-separated: resnet50, ssd320")
    ap.add_argument("--resnet-batch", type=int, default=8, help="ResNet-50's batch per process")
    ap.add_argument("--ssd-batch", type=int, default=4, help="SSD320's batch per process")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    if a.steps < bench_env.MIN_STEPS:
        sys.exit(f"scaling_bench: --steps {a.steps}: at least {bench_env.MIN_STEPS} measured steps per run")
    models = a.models.split(",")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        sys.exit(f"scaling_bench: unknown --models {unknown}; choose from {list(MODELS)}")
    build_dir = bench_env.build(["trainer"])
    mpi = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"machine: {bench_env.machine()}; {a.warmup} warm-up + {a.steps} measured steps per run, "
          f"{bench_env.ROUNDS} alternating runs per side and configuration; {mpi}")
    started = time.time()
    with tempfile.NamedTemporaryFile("w", suffix="_scaling_peer.py") as peer:
        peer.write(PEER)
        peer.flush()
        for model in models:
            title, config, batch_option = MODELS[model]
            batch = getattr(a, batch_option)
            sides = []
            for name, procs, threads in CONFIGS:
                sides += [(f"trainer {name}", lambda p=procs, t=threads: run_trainer(build_dir, config, batch, p, t, a)),
                          (f"peer {name}", lambda p=procs, t=threads: run_peer(peer.name, model, batch, p, t, a))]
            runs = bench_env.alternate(sides)
            first_peer = runs[f"peer {CONFIGS[0][0]}"]
            print(f"\nPyTorch {first_peer['torch'][0]}, torchvision {first_peer['torchvision'][0]}, gloo backend")
            report(title, batch, runs)
    print(f"\nscaling_bench: {(time.time() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()
