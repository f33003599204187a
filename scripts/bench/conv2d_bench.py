#!/usr/bin/env python3
"""conv2d forward + backward on ResNet-50's convolution shapes (NHWC, batch 32): trainer's CPU
backend against PyTorch's (channels_last, the same threads), measured in one run.

    scripts/bench/conv2d_bench.py [--batch 32] [--repeats 10] [--threads N]

Each side times every shape `repeats` times after a warm-up, and runs twice in alternation
(trainer, PyTorch, trainer, PyTorch: bench_env's method). Prints a per-shape table of medians
and the whole-network totals (each shape weighted by how often ResNet-50 uses it) with the
spread of the per-run totals and the ratio PyTorch time / trainer time (> 1: trainer is faster)."""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_env  # noqa: E402

bench_env.ensure_peers(["torch"])
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def shapes():
    text = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "resnet50_conv_shapes.h")).read()
    rows = re.findall(r'\{"([^"]+)",\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+)\}', text)
    return [dict(name=r[0], size=int(r[1]), cin=int(r[2]), cout=int(r[3]), k=int(r[4]), s=int(r[5]), count=int(r[6]))
            for r in rows]


def times_ms(fn, repeats):
    """Milliseconds of each of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return times


def torch_times(batch, repeats):
    """{shape: {"fwd": [ms...], "bwd": [ms...]}}; backward = (forward + backward) - forward per
    repeat, as trainer's backward excludes the forward."""
    out = {}
    cl = torch.channels_last
    for c in shapes():
        x = (torch.rand(batch, c["cin"], c["size"], c["size"]) * 2 - 1).to(memory_format=cl).requires_grad_()
        w = (torch.rand(c["cout"], c["cin"], c["k"], c["k"]) * 2 - 1).to(memory_format=cl).requires_grad_()
        conv = lambda: F.conv2d(x, w, stride=c["s"], padding=c["k"] // 2)  # noqa: E731
        y = conv()
        dy = (torch.rand_like(y) * 2 - 1).contiguous(memory_format=cl)
        with torch.no_grad():
            fwd = times_ms(conv, repeats)

        def fwd_bwd():
            x.grad = w.grad = None
            conv().backward(dy)
        both = times_ms(fwd_bwd, repeats)
        out[c["name"]] = {"fwd": fwd, "bwd": [max(b - f, 0.0) for b, f in zip(both, fwd)]}
    return out


def trainer_times(build_dir, batch, repeats, env):
    proc = subprocess.run([os.path.join(build_dir, "scripts", "bench", "trainer_conv2d_bench"), str(batch),
                           str(repeats)], env=env, check=True, capture_output=True, text=True)
    return {d["name"]: {"fwd": d["fwd_ms"], "bwd": d["bwd_ms"]} for d in map(json.loads, proc.stdout.splitlines())}


def network_ms(per_shape, key, stat):
    """Whole-network milliseconds: each shape's `stat` of its times, weighted by its count."""
    return sum(c["count"] * stat(per_shape[c["name"]][key]) for c in shapes())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=bench_env.MIN_STEPS)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    build_dir = bench_env.build(["trainer_conv2d_bench"])
    torch.set_num_threads(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    print(f"machine: {bench_env.machine()}; {args.threads} threads; batch {args.batch}; {args.repeats} timed repeats "
          f"per shape after a warm-up, {bench_env.ROUNDS} alternating runs per side")
    print(f"PyTorch {torch.__version__} (oneDNN {torch.backends.mkldnn.version() if hasattr(torch.backends.mkldnn, 'version') else '?'})")
    # Each run's per-shape times stay together ({"runs": [one dict per run]}) for the per-run totals.
    runs = bench_env.alternate([
        ("trainer", lambda: {"runs": [trainer_times(build_dir, args.batch, args.repeats, env)]}),
        ("PyTorch", lambda: {"runs": [torch_times(args.batch, args.repeats)]}),
    ])
    rounds = {name: pooled_runs["runs"] for name, pooled_runs in runs.items()}
    # Pool each shape's repeats over the rounds; per-shape medians make the table, and each round's
    # whole-network total gives the spread beside the pooled total.
    pooled = {name: {c["name"]: {k: [t for run in runs for t in run[c["name"]][k]] for k in ("fwd", "bwd")}
                     for c in shapes()} for name, runs in rounds.items()}
    med = statistics.median
    ours, theirs = pooled["trainer"], pooled["PyTorch"]
    print(f"{'shape':18} {'n':>2} {'fwd ours':>9} {'fwd torch':>9} {'ratio':>6} {'bwd ours':>9} {'bwd torch':>9} {'ratio':>6}")
    for c in shapes():
        o, t = ours[c["name"]], theirs[c["name"]]
        print(f"{c['name']:18} {c['count']:2d} {med(o['fwd']):9.2f} {med(t['fwd']):9.2f} "
              f"{med(t['fwd']) / med(o['fwd']):6.2f} {med(o['bwd']):9.2f} {med(t['bwd']):9.2f} "
              f"{med(t['bwd']) / med(o['bwd']):6.2f}")
    print("whole network (each shape's median x its count), ms: median [min-max of the per-run totals]")
    for key, label in (("fwd", "forward"), ("bwd", "backward (data + weights)")):
        row = []
        for name in ("trainer", "PyTorch"):
            per_run = [network_ms(run, key, med) for run in rounds[name]]
            row.append((network_ms(pooled[name], key, med), min(per_run), max(per_run)))
        (o, olo, ohi), (t, tlo, thi) = row
        print(f"{label:26} trainer {o:8.1f} [{olo:.1f}-{ohi:.1f}]  PyTorch {t:8.1f} [{tlo:.1f}-{thi:.1f}]  "
              f"ratio {t / o:.2f}x")
    total_ours = network_ms(ours, "fwd", med) + network_ms(ours, "bwd", med)
    total_theirs = network_ms(theirs, "fwd", med) + network_ms(theirs, "bwd", med)
    print(f"total forward+backward: trainer {total_ours:.1f} ms, PyTorch {total_theirs:.1f} ms, "
          f"ratio {total_theirs / total_ours:.2f}x (PyTorch time / trainer time: > 1, trainer is faster)")


if __name__ == "__main__":
    main()
