#!/usr/bin/env python3
"""Writes the golden fixture of tests/models/detectors/efficientdet_network_test.cpp: EfficientDet
(`tf_efficientdet_d0`'s architecture) as built by the PyPI package effdet 0.4.1 (Ross Wightman's
PyTorch port of google/automl's EfficientDet, backbone from timm), on random weights and images,
in inference mode (moving statistics) and in training mode (batch statistics). The weights are
stored under trainer's names and layouts, the outputs per level.

    .venv-bench/bin/python3 scripts/detection/effdet_reference.py [--check]

writes (or, with --check, recomputes in memory and compares with) the committed reduced fixture:
EfficientNet at width 0.25 / depth 0.34 (stem 8, stages of 8, 8, 16, 24, 32, 48, 80 channels
and 1, 1, 1, 2, 2, 2, 1 blocks), BiFPN of 24 channels x 3 cells (no backbone map has 24
channels, so every C3..C5 input of the first cell is projected, as in D0; 16 would match C3's),
heads of 3 separable convs, 3 classes, 9 anchors, 2 images of 128x128 (P3..P7 = 16, 8, 4, 2, 1).

The real tf_efficientdet_d0 (EfficientNet-B0, 64 channels, 90 classes, one 512x512 image), for a
one-off run of the test outside the repository (only its first test, which pins the fixture's
sizes, fails there):
    .venv-bench/bin/python3 scripts/detection/effdet_reference.py --full \
        --out-dir /tmp/effdet_d0/tests/models/data
    TRAINER_SOURCE_DIR=/tmp/effdet_d0 build/tests/models/models_detection_tests \
        --gtest_filter='EfficientDetNetwork.*'
Other sizes: --set key=JSON on the chosen configuration (keys of CONFIGS below), e.g.
--set image_size=256 --set num_classes=91.

What the network is (effdet 0.4.1 efficientdet.py / config/model_config.py / config/
fpn_config.py, timm 1.0.31 models/efficientnet.py, _efficientnet_builder.py,
_efficientnet_blocks.py, layers/padding.py, conv2d_same.py, pool2d_same.py), as read and printed:
  padding   'same' everywhere (tf_ models): TF SAME. Stride 1 with odd kernels is a static
            symmetric pad (k-1)/2; stride 2 (stem, the first depthwise conv of stages 2, 3, 4, 6,
            the max pools) pads dynamically, total max((ceil(n/s)-1)s + k - n, 0), the odd
            pixel after (bottom/right). Convs pad with 0, max pools with -inf.
  backbone  stem conv 3x3 stride 2 (no bias) -> BN -> swish. Stage 1 ('ds', expand 1):
            depthwise k3 -> BN -> swish -> SE -> pointwise 1x1 -> BN (no activation) [+ input
            when stride 1 and in == out: at width 0.25 the stem has 8 channels like the stage, so
            the reduced network's first block HAS a skip; B0's (32 -> 16) has none]. Stages 2..7
            ('ir', expand 6): expand 1x1 -> BN -> swish -> depthwise k -> BN -> swish -> SE ->
            project 1x1 -> BN (no activation) [+ input when stride 1 and in == out, i.e. every
            block but a stage's first]. No conv has a bias except the SE's two. SE: mean over
            H, W -> 1x1 reduce (bias) -> swish -> 1x1 expand (bias) -> sigmoid -> times the
            (expanded) input; reduced channels = round(mid * 0.25 / expand) = block input
            channels / 4 (from the block's input, not the expanded width). Batchnorm eps 1e-3,
            momentum 0.1 (PyTorch's convention: running = 0.9 running + 0.1 batch). Channels:
            make_divisible(c * width, 8) = max(8, int(c w + 4) // 8 * 8), plus 8 when that is
            under 0.9 c w; stem 32 and stage channels 16, 24, 40, 80, 112, 192, 320 scaled
            (the head conv 1280 is not built: features_only). Repeats: ceil(r * depth) of
            1, 2, 2, 3, 3, 4, 1. Kernels 3, 3, 5, 3, 5, 5, 3; strides 1, 2, 2, 2, 1, 2, 1.
            C3, C4, C5 = outputs of stages 3, 5, 7 (strides 8, 16, 32). No drop path here
            (drop_path_rate 0; tf_efficientdet_d0 trains with 0.2).
  P6, P7    P6 = maxpool 3x3 stride 2 SAME(-inf) of [1x1 conv C5 -> F channels, WITH bias, ->
            BN, no activation] (conv before pool); P7 = maxpool 3x3/2 SAME of P6 (no conv: it
            has F channels already).
  BiFPN     fpn_config bifpn (P3..P7), 8 nodes per cell in the order P6', P5', P4', P3'' (top
            down: inputs [P_l, P_(l+1) of the previous node]) then P4'', P5'', P6'', P7''
            (bottom up: inputs [P_l, P_l', P_(l-1)''], P7'': [P7, P6'']). Each input is first
            resampled to the node's size: a 1x1 conv (bias) + BN (no activation) when it does
            not have F channels (only backbone C3..C5 in the first cell: C5 feeds P5' and P5''
            and C4 feeds P4' and P4'' through separate convs), then nearest upsampling x2
            (F.interpolate(size=...), i.e. repeat) or maxpool 3x3/2 SAME(-inf). Fusion
            'fastattn': w = relu(edge_weights); out = sum_i in_i * w_i / (sum_j w_j + 1e-4).
            Then swish (pre_act) -> depthwise 3x3 (no bias) -> pointwise 1x1 (bias: effdet's
            redundant_bias, True for tf_ models) -> BN; no activation after. Cell outputs: the
            P3'', P4'', ..., P7'' nodes. BN eps 1e-3, momentum 0.01 (running = 0.99 running +
            0.01 batch).
  heads     class net and box net, each: per repeat i a separable conv shared by the levels
            (depthwise 3x3 no bias, pointwise 1x1 with bias [redundant_bias]) -> BN of its own
            per level -> swish; then the predictor: depthwise 3x3 (no bias) -> pointwise 1x1
            with bias to anchors x outputs, no BN, no activation. Same BN eps/momentum as the
            BiFPN. Output channel = anchor * outputs + output (bench.py reshapes NHWC to
            [N, -1, outputs]); anchor = scale_octave * 3 + aspect (octaves 0, 1/3, 2/3; aspects
            (1, 1), (1.4, 0.7), (0.7, 1.4)); box outputs (ty, tx, th, tw).
  activation swish = x sigmoid(x) (SiLU) everywhere.

Random values (numpy PCG64, fixed seed; every tensor rounded to float16, so both sides start
from the same exact numbers): conv kernels N(0, 2 / fan_in), conv biases N(0, 0.2^2), BN
gamma U(0.5, 1.5), beta N(0, 0.2^2), running mean N(0, 0.2^2), running variance U(0.5, 2),
BiFPN edge weights U(0.2, 1.5) with one negated (NEGATIVE_EDGE: the last cell's P6'' node, its
input from P6, so the relu on the fusion weights is exercised), images N(0, 1). The reference
runs in float64 (model.double()); outputs are stored as F32.

Fixture (tests/models/data/, or --out-dir):
  efficientdet_network_weights.safetensors  every effdet parameter and BN running statistic
      (not num_batches_tracked) under trainer's name (see trainer_names()), F16; conv kernels
      OHWI (PyTorch OIHW permuted (0, 2, 3, 1); depthwise [C, k, k, 1]).
  efficientdet_network_io.safetensors  "images" F16 [N, H, W, 3]; F32, for mode in inference
      (BN moving statistics), training (BN batch statistics, normalised with the biased
      variance): "<mode>.class.level<l>" [N, H_l, W_l, 9 * classes] and "<mode>.box.level<l>"
      [N, H_l, W_l, 36] with l = 0..4 for P3..P7 (effdet's NCHW permuted to NHWC),
      "<mode>.backbone.C3/C4/C5", "<mode>.bifpn.P3..P7" (NHWC), and
      "training.batch_stat.<BN>.running_mean/running_var": the batch mean and the
      Bessel-corrected batch variance that one training step feeds into each moving average.
  __metadata__ (both files): the configuration, effdet's parameter count, the scaled backbone
      stages and blocks, and float32_vs_float64: per output, max |f32 - f64| / max |f64| of the
      same effdet network run in float32 (the round-off a float32 implementation should expect).
Before writing, the script runs the fixture's own tensors (trainer's names and layouts) through
functional_forward(), the network written again without effdet's modules, and asserts that it
gives effdet's outputs to float64 round-off: the name mapping and the facts above, checked.
"""
import argparse
import copy
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts", "bench"))
import bench_env  # noqa: E402

bench_env.ensure_peers(["torch", "timm", "effdet"])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from effdet import EfficientDet, get_efficientdet_config  # noqa: E402
from effdet.efficientdet import SeparableConv2d  # noqa: E402
from timm.models import register_model  # noqa: E402
from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual  # noqa: E402
from timm.models.efficientnet import _gen_efficientnet  # noqa: E402

sys.path.insert(0, HERE)
from ssd_torch_reference import f16_exact, read_safetensors, write_safetensors  # noqa: E402

DATA = os.path.join(ROOT, "tests", "models", "data")
WEIGHTS_NAME = "efficientdet_network_weights.safetensors"
IO_NAME = "efficientdet_network_io.safetensors"

CONFIGS = {
    "reduced": dict(width_coefficient=0.25, depth_coefficient=0.34, fpn_channels=24, fpn_cell_repeats=3,
                    box_class_repeats=3, num_classes=3, image_size=128, batch=2, seed=20250307),
    "full": dict(width_coefficient=1.0, depth_coefficient=1.0, fpn_channels=64, fpn_cell_repeats=3,
                 box_class_repeats=3, num_classes=90, image_size=512, batch=1, seed=20250308),
}
MIN_LEVEL, MAX_LEVEL = 3, 7
# (cell counted from the last, node, input): the one edge weight drawn negative.
NEGATIVE_EDGE = (-1, 6, 0)


@register_model
def effdet_reference_tf_efficientnet(pretrained=False, channel_multiplier=1.0, depth_multiplier=1.0, **kwargs):
    """timm's tf_efficientnet_b0 (TF 'same' padding, BN eps 1e-3) with free width and depth
    multipliers: the same generator and settings, which tf_efficientnet_b0 pins at 1.0."""
    assert not pretrained
    kwargs.setdefault("bn_eps", 1e-3)  # timm's BN_EPS_TF_DEFAULT, as tf_efficientnet_b0 sets it
    kwargs.setdefault("pad_type", "same")
    return _gen_efficientnet("tf_efficientnet_b0", channel_multiplier=channel_multiplier,
                             depth_multiplier=depth_multiplier, pretrained=False, **kwargs)


def effdet_config(cfg):
    c = get_efficientdet_config("tf_efficientdet_d0")
    if cfg["width_coefficient"] == 1.0 and cfg["depth_coefficient"] == 1.0:
        c.backbone_name = "tf_efficientnet_b0"  # the real one
        c.backbone_args = dict(drop_path_rate=0.0)
    else:
        c.backbone_name = "effdet_reference_tf_efficientnet"
        c.backbone_args = dict(drop_path_rate=0.0, channel_multiplier=cfg["width_coefficient"],
                               depth_multiplier=cfg["depth_coefficient"])
    c.fpn_channels = cfg["fpn_channels"]
    c.fpn_cell_repeats = cfg["fpn_cell_repeats"]
    c.box_class_repeats = cfg["box_class_repeats"]
    c.num_classes = cfg["num_classes"]
    c.image_size = (cfg["image_size"], cfg["image_size"])
    assert (c.min_level, c.max_level) == (MIN_LEVEL, MAX_LEVEL)
    return c


def build(cfg):
    return EfficientDet(effdet_config(cfg), pretrained_backbone=False)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# effdet / timm names -> trainer's names.

BN_LEAF = {"weight": "gamma", "bias": "beta", "running_mean": "running_mean", "running_var": "running_var"}
DS_PARTS = {"conv_dw": "depthwise.conv", "bn1": "depthwise.bn", "se.conv_reduce": "se.reduce",
            "se.conv_expand": "se.expand", "conv_pw": "project.conv", "bn2": "project.bn"}
IR_PARTS = {"conv_pw": "expand.conv", "bn1": "expand.bn", "conv_dw": "depthwise.conv", "bn2": "depthwise.bn",
            "se.conv_reduce": "se.reduce", "se.conv_expand": "se.expand", "conv_pwl": "project.conv",
            "bn3": "project.bn"}


def trainer_names(model):
    """{effdet state_dict name: trainer's name} for every parameter and BN statistic; raises on a
    name that does not fit trainer's scheme."""
    modules = dict(model.named_modules())
    flat, i = {}, 0  # backbone "s.b" -> flat block index
    for s, stage in enumerate(model.backbone.blocks):
        for b, _ in enumerate(stage):
            flat["%d.%d" % (s, b)] = i
            i += 1
    offsets = [[list(node.combine.inputs_offsets) for node in cell.fnode] for cell in model.fpn.cell]

    def leaf_of(module_name, leaf):
        if isinstance(modules[module_name], nn.BatchNorm2d):
            return BN_LEAF[leaf]
        assert isinstance(modules[module_name], nn.Conv2d) and leaf in ("weight", "bias"), (module_name, leaf)
        return leaf

    def one(name):
        module_name, leaf = name.rsplit(".", 1)
        p = module_name.split(".")
        if p[0] == "backbone":
            if p[1] == "conv_stem":
                return "backbone.stem.conv." + leaf_of(module_name, leaf)
            if p[1] == "bn1":
                return "backbone.stem.bn." + leaf_of(module_name, leaf)
            assert p[1] == "blocks", name
            block = modules["backbone.blocks.%s.%s" % (p[2], p[3])]
            parts = DS_PARTS if isinstance(block, DepthwiseSeparableConv) else IR_PARTS
            assert isinstance(block, (DepthwiseSeparableConv, InvertedResidual)), name
            ours = parts[".".join(p[4:])]
            if ours.startswith("se."):  # the SE's 1x1 convs: weight and bias directly
                return "backbone.blocks.%d.%s.%s" % (flat[p[2] + "." + p[3]], ours, leaf)
            return "backbone.blocks.%d.%s.%s" % (flat[p[2] + "." + p[3]], ours, leaf_of(module_name, leaf))
        if p[0] == "fpn":
            if p[1] == "resample":  # fpn.resample.<level index>.conv.{conv,bn}
                assert p[3] == "conv" and p[4] in ("conv", "bn") and len(p) == 5, name
                return "bifpn.p%d.%s.%s" % (int(p[2]) + MIN_LEVEL, p[4], leaf_of(module_name, leaf))
            assert p[1] == "cell" and p[3] == "fnode", name
            r, n = int(p[2]), int(p[4])
            node = "bifpn.cell%d.node%d" % (r, n)
            if p[5:] == ["combine"] and leaf == "edge_weights":
                return node + ".weights"
            if p[5:7] == ["combine", "resample"]:  # ...resample.<offset>.conv.{conv,bn}
                assert p[8] == "conv" and p[9] in ("conv", "bn") and len(p) == 10, name
                j = offsets[r][n].index(int(p[7]))
                return "%s.input%d.%s.%s" % (node, j, p[9], leaf_of(module_name, leaf))
            assert p[5:7] == ["after_combine", "conv"] and len(p) == 8, name
            if p[7] == "bn":
                return "%s.bn.%s" % (node, leaf_of(module_name, leaf))
            return "%s.conv.%s.%s" % (node, {"conv_dw": "depthwise", "conv_pw": "pointwise"}[p[7]],
                                      leaf_of(module_name, leaf))
        assert p[0] in ("class_net", "box_net"), name
        net = p[0].split("_")[0]
        sep = {"conv_dw": "depthwise", "conv_pw": "pointwise"}
        if p[1] == "conv_rep":
            return "predictor.%s_tower.conv%d.%s.%s" % (net, int(p[2]), sep[p[3]], leaf_of(module_name, leaf))
        if p[1] == "bn_rep":  # bn_rep.<repeat>.<level>.bn (repeats first: head_bn_level_first False)
            assert p[4] == "bn" and len(p) == 5, name
            return "predictor.%s_tower.conv%d.level%d.bn.%s" % (net, int(p[2]), int(p[3]), leaf_of(module_name, leaf))
        assert p[1] == "predict" and len(p) == 3, name
        return "predictor.%s_head.%s.%s" % (net, sep[p[2]], leaf_of(module_name, leaf))

    names = {k: one(k) for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    assert len(set(names.values())) == len(names), "two effdet tensors map to one name"
    # Every parameter and buffer is mapped, exactly once.
    expected = {k for k, _ in model.named_parameters()} | \
               {k for k, _ in model.named_buffers() if not k.endswith("num_batches_tracked")}
    assert set(names) == expected, set(names) ^ expected
    return names


def to_ours(t):
    """OIHW -> OHWI for conv kernels; other tensors as they are."""
    return t.permute(0, 2, 3, 1) if t.dim() == 4 else t


# ---------------------------------------------------------------------------------------------

def randomise(model, rng):
    """Overwrites every parameter and BN statistic with f16-exact random draws, in state_dict order."""
    modules = dict(model.named_modules())
    negative = "fpn.cell.%d.fnode.%d.combine.edge_weights" % (
        NEGATIVE_EDGE[0] % len(model.fpn.cell), NEGATIVE_EDGE[1])
    sd = model.state_dict()
    with torch.no_grad():
        for name, t in sd.items():
            if name.endswith("num_batches_tracked"):
                continue
            module_name, leaf = name.rsplit(".", 1)
            m = modules[module_name]
            shape = tuple(t.shape)
            if leaf == "edge_weights":
                a = rng.uniform(0.2, 1.5, shape)
                if name == negative:
                    a[NEGATIVE_EDGE[2]] = -a[NEGATIVE_EDGE[2]]
            elif isinstance(m, nn.BatchNorm2d):
                a = {"weight": lambda: rng.uniform(0.5, 1.5, shape), "bias": lambda: rng.normal(0.0, 0.2, shape),
                     "running_mean": lambda: rng.normal(0.0, 0.2, shape),
                     "running_var": lambda: rng.uniform(0.5, 2.0, shape)}[leaf]()
            else:
                assert isinstance(m, nn.Conv2d), name
                if leaf == "weight":
                    fan_in = shape[1] * shape[2] * shape[3]
                    a = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
                else:
                    a = rng.normal(0.0, 0.2, shape)
            t.copy_(torch.from_numpy(f16_exact(a)))
    return negative


def forward(model, images_nchw):
    """(C3..C5, P3..P7, class outputs P3..P7, box outputs P3..P7) as effdet computes them
    (EfficientDet.forward, split to keep the intermediate maps)."""
    with torch.no_grad():
        feats = model.backbone(images_nchw)
        levels = model.fpn(list(feats))
        return list(feats), list(levels), model.class_net(levels), model.box_net(levels)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def outputs(model, images_nchw, mode):
    feats, levels, cls, box = forward(model, images_nchw)
    out = {}
    for k, f in enumerate(feats):
        out["%s.backbone.C%d" % (mode, k + MIN_LEVEL)] = nhwc(f)
    for k, f in enumerate(levels):
        out["%s.bifpn.P%d" % (mode, k + MIN_LEVEL)] = nhwc(f)
    for k, (c, b) in enumerate(zip(cls, box)):
        out["%s.class.level%d" % (mode, k)] = nhwc(c)
        out["%s.box.level%d" % (mode, k)] = nhwc(b)
    return out


def run_mode(model, images_nchw, training):
    """Outputs in one mode on a copy (a training forward moves the running statistics), and
    for training the batch statistics each BN's moving average takes (mean, unbiased var)."""
    m = copy.deepcopy(model)
    m.train(training)
    stats, hooks = {}, []
    if training:
        for name, mod in m.named_modules():
            if isinstance(mod, nn.BatchNorm2d):
                def hook(mod, inputs, name=name):
                    x = inputs[0]
                    stats[name] = (x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=True))
                hooks.append(mod.register_forward_pre_hook(hook))
    out = outputs(m, images_nchw.to(next(m.parameters()).dtype), "training" if training else "inference")
    for h in hooks:
        h.remove()
    return out, stats


def backbone_facts(model):
    """Per stage [out channels, repeats]; per block [in, mid, se reduced, out, kernel, stride, skip]."""
    stages, blocks = [], []
    for stage in model.backbone.blocks:
        for blk in stage:
            if isinstance(blk, DepthwiseSeparableConv):
                cin, mid, cout = blk.conv_dw.in_channels, blk.conv_dw.out_channels, blk.conv_pw.out_channels
            else:
                cin, mid, cout = blk.conv_pw.in_channels, blk.conv_pw.out_channels, blk.conv_pwl.out_channels
            blocks.append([cin, mid, blk.se.conv_reduce.out_channels, cout, blk.conv_dw.kernel_size[0],
                           blk.conv_dw.stride[0], int(blk.has_skip)])
        stages.append([blocks[-1][3], len(stage)])
    return stages, blocks


def structure_checks(model, cfg):
    """The facts the docstring states, asserted on the built network."""
    c = model.config
    assert c.pad_type == "same" and c.redundant_bias and c.apply_resample_bn and not c.conv_bn_relu_pattern
    assert c.downsample_type == "max" and c.upsample_type == "nearest" and c.separable_conv
    assert len(c.aspect_ratios) * c.num_scales == 9
    for name, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            want = (1e-3, 0.1) if name.startswith("backbone") else (1e-3, 0.01)
            assert (m.eps, m.momentum) == want, (name, m.eps, m.momentum)
        if isinstance(m, nn.Conv2d) and m.groups > 1:
            assert m.bias is None and m.groups == m.in_channels == m.out_channels, name
    for net in (model.class_net, model.box_net):
        for conv in net.conv_rep:
            assert isinstance(conv, SeparableConv2d) and conv.bn is None and conv.act is None
            assert conv.conv_pw.bias is not None  # effdet's redundant bias
    assert [f["num_chs"] for f in model.backbone.feature_info.get_dicts()][-1] != cfg["fpn_channels"]


# ---------------------------------------------------------------------------------------------
# The same network written again from trainer's names and layouts (NHWC weights in, no effdet
# module): run on the fixture's tensors, it must give effdet's outputs. This checks the name
# mapping (input j of each node, levels of the head BNs, flat block numbering) and the facts of
# the docstring, and is the arithmetic the C++ test expects, spelled out.

def same_pad(x, k, s, value=0.0):
    """TF 'SAME' on NCHW: total max((ceil(n/s)-1)s + k - n, 0), the odd pixel after."""
    pads = []
    for n in (x.shape[3], x.shape[2]):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


def functional_forward(w, meta, images_nhwc, training):
    cfg = {k: json.loads(v) for k, v in meta.items()}
    eps = cfg["bn_epsilon"]
    p = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in w.items()}

    def conv(x, name, stride=1, bias=False):
        k = p[name]  # OHWI; depthwise [C, k, k, 1]
        groups = x.shape[1] if "depthwise" in name else 1
        y = F.conv2d(same_pad(x, k.shape[1], stride), k.permute(0, 3, 1, 2).contiguous(), stride=stride,
                     groups=groups)
        return y + p[name[:-len("weight")] + "bias"][None, :, None, None] if bias else y

    def bn(x, name):
        if training:
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
        else:
            mean, var = p[name + ".running_mean"], p[name + ".running_var"]
        scale = p[name + ".gamma"] / torch.sqrt(var + eps)
        return (x - mean[None, :, None, None]) * scale[None, :, None, None] + p[name + ".beta"][None, :, None, None]

    def swish(x):
        return x * torch.sigmoid(x)

    def max_pool(x):  # 3x3 stride 2 'SAME', padded with -inf
        return F.max_pool2d(same_pad(x, 3, 2, -math.inf), 3, 2)

    x = images_nhwc.permute(0, 3, 1, 2).to(torch.float64).contiguous()
    x = swish(bn(conv(x, "backbone.stem.conv.weight", 2), "backbone.stem.bn"))
    strides = [1, 2, 2, 2, 1, 2, 1]  # EfficientNet's per stage, on its first block
    feats, i = [], 0
    for stage, (_, repeats) in enumerate(cfg["backbone_stages"]):
        for r in range(repeats):
            b = "backbone.blocks.%d." % i
            inp = x
            if b + "expand.conv.weight" in p:
                x = swish(bn(conv(x, b + "expand.conv.weight"), b + "expand.bn"))
            x = swish(bn(conv(x, b + "depthwise.conv.weight", strides[stage] if r == 0 else 1), b + "depthwise.bn"))
            s = x.mean(dim=(2, 3), keepdim=True)
            s = swish(conv(s, b + "se.reduce.weight", bias=True))
            x = x * torch.sigmoid(conv(s, b + "se.expand.weight", bias=True))
            x = bn(conv(x, b + "project.conv.weight"), b + "project.bn")
            if x.shape == inp.shape:  # stride 1 and in == out
                x = x + inp
            i += 1
        if stage in (2, 4, 6):
            feats.append(x)
    out = {"backbone.C%d" % (k + 3): f for k, f in enumerate(feats)}
    p6 = max_pool(bn(conv(feats[2], "bifpn.p6.conv.weight", bias=True), "bifpn.p6.bn"))
    nodes = feats + [p6, max_pool(p6)]  # C3, C4, C5, P6, P7: ids 0..4
    for r in range(cfg["fpn_cell_repeats"]):
        last = {l: l - 3 for l in range(3, 8)}  # level -> latest node id of this cell
        every = {l: [l - 3] for l in range(3, 8)}
        order = [(l, "down") for l in range(6, 2, -1)] + [(l, "up") for l in range(4, 8)]
        for n, (level, path) in enumerate(order):
            ids = [last[level], last[level + 1]] if path == "down" else every[level] + [last[level - 1]]
            node = "bifpn.cell%d.node%d." % (r, n)
            size = nodes[last[level]].shape[2]
            inputs = []
            for j, idx in enumerate(ids):
                t = nodes[idx]
                if node + "input%d.conv.weight" % j in p:
                    t = bn(conv(t, node + "input%d.conv.weight" % j, bias=True), node + "input%d.bn" % j)
                if t.shape[2] > size:
                    t = max_pool(t)
                elif t.shape[2] < size:
                    f = size // t.shape[2]
                    t = t.repeat_interleave(f, dim=2).repeat_interleave(f, dim=3)
                inputs.append(t)
            e = torch.relu(p[node + "weights"])
            y = sum(t * e[j] for j, t in enumerate(inputs)) / (e.sum() + cfg["fusion_epsilon"])
            y = conv(conv(swish(y), node + "conv.depthwise.weight"), node + "conv.pointwise.weight", bias=True)
            nodes.append(bn(y, node + "bn"))
            last[level] = len(nodes) - 1
            every[level].append(len(nodes) - 1)
        nodes = [nodes[last[l]] for l in range(3, 8)]
    for k, t in enumerate(nodes):
        out["bifpn.P%d" % (k + 3)] = t
    for net in ("class", "box"):
        for k, t in enumerate(nodes):
            for c in range(cfg["box_class_repeats"]):
                tower = "predictor.%s_tower.conv%d." % (net, c)
                t = conv(conv(t, tower + "depthwise.weight"), tower + "pointwise.weight", bias=True)
                t = swish(bn(t, tower + "level%d.bn" % k))
            head = "predictor.%s_head." % net
            out["%s.level%d" % (net, k)] = conv(conv(t, head + "depthwise.weight"), head + "pointwise.weight", bias=True)
    return {k: v.permute(0, 2, 3, 1) for k, v in out.items()}


def max_rel(a, b):
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--reduced", dest="config", action="store_const", const="reduced",
                       help="the committed fixture's configuration (default)")
    which.add_argument("--full", dest="config", action="store_const", const="full",
                       help="the real tf_efficientdet_d0 (needs --out-dir)")
    ap.set_defaults(config="reduced")
    ap.add_argument("--check", action="store_true", help="recompute and compare with the stored fixture")
    ap.add_argument("--out-dir", default=None, help="where the two files are (default: tests/models/data)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a CONFIGS entry, e.g. image_size=256")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = dict(CONFIGS[args.config])
    for kv in args.set:
        key, value = kv.split("=", 1)
        assert key in cfg, key
        cfg[key] = json.loads(value)
    if args.out_dir is None:
        if args.config != "reduced" or args.set:
            sys.exit("--full and --set write outside the repository: give --out-dir")
        args.out_dir = DATA
    weights_file = os.path.join(args.out_dir, WEIGHTS_NAME)
    io_file = os.path.join(args.out_dir, IO_NAME)

    # effdet's parameter counts of the real model (COCO's 90 classes, and NVIDIA's 91).
    full_counts = {}
    for classes in (90, 91):
        full_counts[classes] = parameter_count(build(dict(CONFIGS["full"], num_classes=classes)))
        print("effdet tf_efficientdet_d0, %d classes: %d parameters" % (classes, full_counts[classes]))

    torch.manual_seed(cfg["seed"])  # effdet/timm's init, overwritten below
    model = build(cfg).double()
    structure_checks(model, cfg)
    names = trainer_names(model)
    rng = np.random.default_rng(cfg["seed"])
    negative = randomise(model, rng)
    n, s = cfg["batch"], cfg["image_size"]
    images = torch.from_numpy(f16_exact(rng.standard_normal((n, s, s, 3))))
    images_nchw = images.permute(0, 3, 1, 2).contiguous()
    count = parameter_count(model)
    stages, blocks = backbone_facts(model)
    print("%s config %s: %d parameters (effdet's count)" % (args.config, json.dumps(cfg), count))
    print("backbone stages [out channels, repeats]:", stages)
    print("backbone blocks [in, mid, se, out, kernel, stride, skip]:", blocks)
    print("negative edge weight:", negative, model.state_dict()[negative].tolist())

    io = {}
    inf, _ = run_mode(model, images_nchw, training=False)
    trn, batch_stats = run_mode(model, images_nchw, training=True)
    io.update(inf)
    io.update(trn)
    assert set(batch_stats) == {k[:-len(".running_mean")] for k in names if k.endswith(".running_mean")}
    for bn, (mean, var) in batch_stats.items():
        ours = names[bn + ".running_mean"][:-len(".running_mean")]
        io["training.batch_stat.%s.running_mean" % ours] = mean
        io["training.batch_stat.%s.running_var" % ours] = var
    # The same forward as EfficientDet.forward's: the split above changes nothing.
    with torch.no_grad():
        cls_ref, box_ref = copy.deepcopy(model).eval()(images_nchw)
    for k in range(len(cls_ref)):
        assert torch.equal(nhwc(cls_ref[k]), io["inference.class.level%d" % k])
        assert torch.equal(nhwc(box_ref[k]), io["inference.box.level%d" % k])

    # float32 round-off: the same network in float32 against the float64 reference.
    m32 = copy.deepcopy(model).float()
    discrepancy = {}
    for training in (False, True):
        out32, _ = run_mode(m32, images_nchw, training)
        for key, v in out32.items():
            discrepancy[key] = max_rel(v, io[key])
    heads = {k: v for k, v in discrepancy.items() if ".class." in k or ".box." in k}
    for mode in ("inference", "training"):
        print("%s float32 vs float64 (max |f32 - f64| / max |f64|):" % mode)
        for key in sorted(k for k in discrepancy if k.startswith(mode + ".") and "batch_stat" not in k):
            print("  %-28s %.3g  (max |f64| %.4g)" % (key, discrepancy[key], float(io[key].abs().max())))
    print("worst over the head outputs: %.3g" % max(heads.values()))

    weights = {names[k]: to_ours(v).contiguous().numpy().astype(np.float16)
               for k, v in model.state_dict().items() if k in names}
    for k, v in model.state_dict().items():
        if k in names:
            assert np.array_equal(weights[names[k]].astype(np.float64), to_ours(v).numpy()), k
    io_np = {k: v.numpy().astype(np.float32) for k, v in io.items()}
    io_np["images"] = images.numpy().astype(np.float16)
    meta = {
        "config": args.config,
        "width_coefficient": cfg["width_coefficient"], "depth_coefficient": cfg["depth_coefficient"],
        "fpn_channels": cfg["fpn_channels"], "fpn_cell_repeats": cfg["fpn_cell_repeats"],
        "box_class_repeats": cfg["box_class_repeats"], "num_classes": cfg["num_classes"],
        "image_size": cfg["image_size"], "batch": cfg["batch"], "seed": cfg["seed"],
        "min_level": MIN_LEVEL, "max_level": MAX_LEVEL, "anchors": 9, "num_scales": 3,
        "aspect_ratios": [list(a) for a in model.config.aspect_ratios], "anchor_scale": model.config.anchor_scale,
        "effdet_parameter_count": count,
        "effdet_parameter_count_tf_efficientdet_d0_90": full_counts[90],
        "effdet_parameter_count_tf_efficientdet_d0_91": full_counts[91],
        "backbone_stem_channels": model.backbone.conv_stem.out_channels,
        "backbone_stages": stages, "backbone_blocks": blocks,
        "backbone_bn_epsilon": 1e-3, "backbone_bn_momentum": 0.1, "bn_epsilon": 1e-3, "bn_momentum": 0.01,
        "fusion_epsilon": 1e-4, "negative_edge_weight": names[negative],
        "float32_vs_float64": {k: float("%.3g" % v) for k, v in sorted(discrepancy.items())},
        "float32_vs_float64_heads_max": float("%.3g" % max(heads.values())),
    }
    meta = {k: json.dumps(v) for k, v in meta.items()}

    # The fixture's own tensors through the from-scratch forward: effdet's outputs to float64
    # round-off (effdet sums the fusion terms in another order, and pads with its own code).
    for training, mode in ((False, "inference"), (True, "training")):
        mine = functional_forward(weights, meta, images, training)
        worst = max(max_rel(v, io["%s.%s" % (mode, k)]) for k, v in mine.items())
        assert len(mine) == sum(1 for k in io if k.startswith(mode + ".") and "batch_stat" not in k)
        print("%s: the forward written from trainer's names gives effdet's outputs to %.2g" % (mode, worst))
        assert worst < 1e-12, worst

    if args.check:
        w_old, w_meta = read_safetensors(weights_file)
        io_old, io_meta = read_safetensors(io_file)
        assert set(w_old) == set(weights), set(w_old) ^ set(weights)
        assert set(io_old) == set(io_np), set(io_old) ^ set(io_np)
        for k in weights:
            assert np.array_equal(w_old[k], weights[k]), k
        assert np.array_equal(io_old["images"], io_np["images"])
        worst = 0.0
        for k in io_np:  # float64 sums may round differently on another CPU: allow 1e-6 of the scale
            a, b = io_old[k].astype(np.float64), io_np[k].astype(np.float64)
            assert a.shape == b.shape, k
            worst = max(worst, float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)))
        assert worst <= 1e-6, worst
        exact = {k for k in meta if k not in ("float32_vs_float64", "float32_vs_float64_heads_max")}
        for m in (w_meta, io_meta):
            for k in exact:
                assert m.get(k) == meta[k], (k, m.get(k), meta[k])
        print("fixture reproduced (weights and images exactly, outputs to %.2g of their scale)" % worst)
        return
    os.makedirs(args.out_dir, exist_ok=True)
    write_safetensors(weights_file, weights, meta)
    write_safetensors(io_file, io_np, meta)
    print("wrote", weights_file, os.path.getsize(weights_file), "bytes;", io_file, os.path.getsize(io_file), "bytes")


if __name__ == "__main__":
    main()
