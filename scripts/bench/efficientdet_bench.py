#!/usr/bin/env python3
"""EfficientDet-D0 training and inference on the CPU: `trainer --mode benchmark` on the TF2 zoo's
configs/tfod/ssd_efficientdet_d0_512x512_coco17_tpu-8.config against effdet's tf_efficientdet_d0
(the PyPI port of the same network: EfficientNet-B0 + 3 BiFPN cells of 64 channels, shared
depthwise-separable heads, TF 'same' padding, 90 classes, 9 anchors per cell, focal loss and Huber
box loss) at 512x512, channels_last, the same batch and threads, in one run.

    scripts/bench/efficientdet_bench.py [--precision fp32|bf16] [--batch 4] [--warmup 2] [--steps 10] [--threads N]
                                        [--breakdown]

--precision bf16 and the method (medians with min-max over two alternating runs per side, each
side in its own process, ratio of the medians) as scripts/bench/ssd320_bench.py. Training: forward, loss (target assignment
included: effdet's DetBenchTrain runs its anchor labeler every step), backward, momentum SGD.
Inference: eval-mode forward plus post-processing (top-k, decode, NMS: effdet's DetBenchPredict)
on synthetic images with a few boxes each. Each side runs in its own process so peak RSS is its
own.

--breakdown also profiles the peer (torch.profiler, in processes of their own after the timed
runs, so the timings above are unaffected) and prints the share of its training step and of its
inference time spent in depthwise convolutions (groups == channels, with their 'same' padding)
and in the squeeze-excite modules (timm's SqueezeExcite: pooling, the two 1x1 convolutions, the
activation, the gate and the multiply), forward and backward: the backward nodes are those whose
autograd sequence number belongs to a forward op inside the module; and the share outside the
network (loss and target assignment, or top-k, decode and NMS, and the optimizer). trainer's
shares come from its benchmark mode, which times the parts the model marks (ops/part_scope.h:
every depthwise convolution, every squeeze-excite block), forward and backward."""
import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_env  # noqa: E402

# torchvision: effdet's NMS and peer_models' import; pinned here so that pip does not pick one
bench_env.ensure_peers(["torch", "torchvision", "timm", "effdet"])

PEER = r'''
import json, resource, sys, time
import importlib.metadata
import torch, timm
import peer_models
mode, batch, warmup, steps, threads = sys.argv[1], *map(int, sys.argv[2:6])
bf16 = sys.argv[6] == "bf16"
breakdown = sys.argv[7] == "breakdown"
autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
torch.set_num_threads(threads)
torch.manual_seed(0)
train, predict, images, targets = peer_models.efficientdet_d0(batch)
model = train.model
if mode == "train":
    train.train()
    opt = peer_models.efficientdet_optimizer(train)
    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = train(images, targets)["loss"]
        loss.backward()
        opt.step()
else:
    predict.eval()
    def step():
        with torch.no_grad(), autocast():
            predict(images)

if breakdown:
    from timm.models._efficientnet_blocks import SqueezeExcite
    from torch.profiler import ProfilerActivity, profile, record_function
    def label(module, name):  # a profiler range around every call of the module
        forward = module.forward
        def labelled(*args, **kwargs):
            with record_function(name):
                return forward(*args, **kwargs)
        module.forward = labelled
    parts = {"depthwise": 0, "se": 0}
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels:
            label(m, "bench::depthwise"); parts["depthwise"] += 1
        elif isinstance(m, SqueezeExcite):
            label(m, "bench::se"); parts["se"] += 1
    label(model, "bench::network")  # the rest of the step: loss, target assignment, NMS, SGD
    for _ in range(warmup):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            with record_function("bench::step"):
                step()
    events = prof.events()
    names = ("bench::depthwise", "bench::se", "bench::network")
    def inside(e):  # the innermost labelled range an event runs in, if any
        while e is not None:
            if e.name in names:
                return e.name
            e = e.cpu_parent
    forward_us, backward_us, sequence = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0), {}
    for e in events:
        if e.name in names:
            forward_us[e.name] += e.cpu_time_total
        elif e.sequence_nr >= 0 and not e.name.startswith("autograd::engine"):
            where = inside(e.cpu_parent)
            if where:
                sequence[(e.fwd_thread if e.fwd_thread else e.thread, e.sequence_nr)] = where
    for e in events:  # backward: the autograd nodes that the labelled forward ops created
        if e.name.startswith("autograd::engine::evaluate_function:") and e.sequence_nr >= 0:
            where = sequence.get((e.fwd_thread, e.sequence_nr))
            if where:
                backward_us[where] += e.cpu_time_total
    step_us = sum(e.cpu_time_total for e in events if e.name == "bench::step")
    pct = lambda us: 100 * us / step_us
    print(json.dumps({"depthwise_pct": pct(forward_us["bench::depthwise"] + backward_us["bench::depthwise"]),
                      "se_pct": pct(forward_us["bench::se"] + backward_us["bench::se"]),
                      "depthwise_backward_pct": pct(backward_us["bench::depthwise"]),
                      "se_backward_pct": pct(backward_us["bench::se"]),
                      # the network's forward range holds the other two; its backward is split among the three
                      "rest_pct": 100 - pct(forward_us["bench::network"] + sum(backward_us.values())),
                      "profiled_step_ms": step_us / 1e3 / steps, "modules": parts}))
    sys.exit(0)

peer_models.report_timed_steps(mode, model, images, step, batch, warmup, steps, timm=timm.__version__,
                               effdet=importlib.metadata.version("effdet"))
'''

CONFIG = "configs/tfod/ssd_efficientdet_d0_512x512_coco17_tpu-8.config"


def run_peer(mode, a, breakdown=False):
    out = subprocess.run([sys.executable, "-c", PEER, mode, str(a.batch), str(a.warmup), str(a.steps), str(a.threads),
                          a.precision, "breakdown" if breakdown else "time"], check=True, capture_output=True,
                         text=True, env=bench_env.peer_environment()).stdout
    return json.loads(out.strip().splitlines()[-1])


def trainer_failed(e):
    """Exits with what trainer said when it refused or failed (the config unsupported, a crash)."""
    said = "\n".join((e.stderr or e.stdout or "").strip().splitlines()[-15:])
    sys.exit(f"efficientdet_bench: {' '.join(map(str, e.cmd))[:300]} exited with {e.returncode}:\n{said}")


def run_trainer(build_dir, batch, warmup, steps, threads, precision):
    try:
        steps_log, out = bench_env.detection_trainer_run(build_dir, CONFIG, batch, warmup, steps, threads, precision)
    except subprocess.CalledProcessError as e:
        trainer_failed(e)
    # trainer's own breakdown line (benchmark mode times the parts the model marks, forward + backward)
    parts = re.search(r"time in parts \(forward \+ backward\): (.*)", out)
    for name, train, infer in re.findall(r"([a-z -]+?) ([\d.]+) % of training, ([\d.]+) % of inference",
                                         parts.group(1) if parts else ""):
        steps_log[f"part.{name.strip('; ')}"] = (float(train), float(infer))
    return steps_log


def print_breakdown(a, ours):
    """The depthwise and squeeze-excite shares of both sides (see --breakdown)."""
    print(f"share of the time in depthwise convolutions and squeeze-excite, forward + backward (torch.profiler over "
          f"{a.steps} steps after {a.warmup} warm-up, batch {a.batch}, {a.threads} threads; profiler overhead "
          "included):")
    print(f"{'':28} {'depthwise conv':>16} {'squeeze-excite':>16} {'not the network':>16} {'profiled ms/step':>17}")
    for mode, what in (("train", "effdet training step"), ("infer", "effdet inference")):
        r = run_peer(mode, a, breakdown=True)
        dw, se = f"{r['depthwise_pct']:.1f} %", f"{r['se_pct']:.1f} %"
        if mode == "train":
            dw += f" ({r['depthwise_backward_pct']:.0f} bwd)"
            se += f" ({r['se_backward_pct']:.0f} bwd)"
        print(f"{what:28} {dw:>16} {se:>16} {r['rest_pct']:14.1f} % {r['profiled_step_ms']:17.1f}")
    print(f"({r['modules']['depthwise']} depthwise convolutions, {r['modules']['se']} squeeze-excite modules; "
          "'bwd': the part of the share spent in their backward; not the network: loss and target assignment, or "
          "top-k, decode and NMS, and the optimizer)")
    for mode, column in (("training step", 0), ("inference", 1)):
        dw = ours.get("part.depthwise convolution", [(0.0, 0.0)])[0][column]
        se = ours.get("part.squeeze-excite", [(0.0, 0.0)])[0][column]
        print(f"{'trainer ' + mode:28} {dw:14.1f} % {se:14.1f} %   (benchmark mode's own timing of the parts, "
              "first run)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--breakdown", action="store_true",
                    help="also print the peer's share of time in depthwise convolutions and squeeze-excite")
    a = ap.parse_args()
    if a.steps < bench_env.MIN_STEPS:
        sys.exit(f"efficientdet_bench: --steps {a.steps}: at least {bench_env.MIN_STEPS} measured steps per run")
    build_dir = bench_env.build(["trainer"])
    try:
        gflops = bench_env.forward_gflops(build_dir, CONFIG)
    except subprocess.CalledProcessError as e:
        trainer_failed(e)
    print(f"machine: {bench_env.machine()}; {a.threads} threads; batch {a.batch}; {a.warmup} warm-up + {a.steps} "
          f"measured steps per run, {bench_env.ROUNDS} alternating runs per side; {a.precision}; 512x512")
    runs = bench_env.alternate([
        ("trainer", lambda: run_trainer(build_dir, a.batch, a.warmup, a.steps, a.threads, a.precision)),
        ("effdet train", lambda: run_peer("train", a)),
        ("effdet infer", lambda: run_peer("infer", a)),
    ])
    ours, peer_train, peer_infer = runs["trainer"], runs["effdet train"], runs["effdet infer"]
    print(f"PyTorch {peer_train['torch'][0]}, timm {peer_train['timm'][0]}, effdet {peer_train['effdet'][0]} "
          f"(tf_efficientdet_d0, {peer_train['params'][0]:,} parameters; trainer's EfficientDet-D0: "
          f"{int(ours['parameters'][0]):,})")
    bench_env.print_detection_comparison("effdet", ours, peer_train, peer_infer, gflops, "EfficientDet-D0",
                                         "tf_efficientdet_d0")
    if a.breakdown:
        print_breakdown(a, ours)


if __name__ == "__main__":
    main()
