#!/usr/bin/env python3
"""Writes the golden fixture of tests/models/detectors/ssd_network_test.cpp: NVIDIA's SSD320
network (TF Object Detection API, `ssd_resnet50_v1_fpn` + WeightSharedConvolutionalBoxPredictor,
configs/ssd320_full_8gpus.config) re-implemented in PyTorch from NVIDIA's TensorFlow 1 code,
run on random weights and images, in training mode (batch statistics) and in inference mode
(moving statistics).

    .venv-bench/bin/python3 scripts/detection/ssd_torch_reference.py [--check]

Other input sizes, for a one-off run of the test outside the repository (the fixture check then
fails on the size, the comparisons run at that size):
    .venv-bench/bin/python3 scripts/detection/ssd_torch_reference.py --image-size 320 \
        --out-dir /tmp/ssd320/tests/models/data
    TRAINER_SOURCE_DIR=/tmp/ssd320 build/tests/models/models_detection_tests --gtest_filter='SsdNetwork.*'
NVIDIA's full size: add --set width=64 --set fpn_depth=256 --set predictor_depth=256
--set num_classes=90 (the test reads these from the file's metadata too).

Written from (prefix TensorFlow/Detection/SSD/models/research/ of NVIDIA/DeepLearningExamples),
sharing nothing with trainer's C++:
  slim/nets/resnet_v1.py          resnet_v1 / resnet_v1_50 / bottleneck: stem conv2d_same(64, 7,
                                  stride 2) + max_pool2d(3x3, stride 2, 'SAME' from
                                  resnet_arg_scope); blocks (base 64, 3 units, 2), (128, 4, 2),
                                  (256, 6, 2), (512, 3, 1), unit depth 4 x base; bottleneck:
                                  shortcut = subsample(x, stride) if depth == depth_in else
                                  conv 1x1/stride + BN (no activation); conv1 1x1 + BN + act,
                                  conv2 conv2d_same 3x3/stride + BN + act, conv3 1x1 + BN (no
                                  activation); output tf.nn.relu(shortcut + residual)
  slim/nets/resnet_utils.py       conv2d_same (stride 1: 'SAME'; stride > 1: explicit symmetric
                                  pad (k-1)//2, k-1-(k-1)//2 then 'VALID'); subsample = 1x1
                                  max-pool; stack_blocks_dense with store_non_strided_activations:
                                  the last unit of each block runs at stride 1, the block output
                                  is the endpoint, then subsample(block_stride)
  object_detection/models/ssd_resnet_v1_fpn_feature_extractor.py
                                  endpoints block2..block4 (C3..C5) -> fpn_top_down_feature_maps;
                                  P6, P7 = slim.conv2d 3x3 stride 2 'SAME' (+ BN + act from the
                                  arg scope) on P5 (= top_down_block4), then on P6
  object_detection/models/feature_map_generators.py  fpn_top_down_feature_maps: projection_k
                                  = 1x1 conv WITH bias, no BN, no activation; top = projection of
                                  the last; for lower levels: nearest 2x upsampling + projection,
                                  then smoothing_k = 3x3 'SAME' conv + BN + act; the top level is
                                  not smoothed
  object_detection/utils/ops.py   nearest_neighbor_upsampling (reshape/broadcast = repeat)
  object_detection/predictors/convolutional_box_predictor.py  WeightSharedConvolutionalBoxPredictor:
                                  per level j, separate box and class towers of
                                  num_layers_before_predictor x (3x3 'SAME' conv, no bias
                                  [normalizer_fn=tf.identity] -> slim.batch_norm scope
                                  .../BatchNorm/feature_j -> tf.nn.relu6); conv weights shared
                                  across levels (AUTO_REUSE), batchnorm per level
  object_detection/predictors/heads/box_head.py, class_head.py  3x3 'SAME' conv with bias to
                                  anchors x code_size / anchors x (num_classes + 1), reshape
                                  [N, -1, code] from NHWC; score converter identity
  object_detection/meta_architectures/ssd_meta_arch.py  predict(): tf.concat over levels, axis 1
  object_detection/builders/hyperparams_builder.py  the config's conv_hyperparams arg scope: conv2d
                                  activation_fn = relu6 (RELU_6), normalizer_fn = batch_norm, and
                                  arg_scope([slim.batch_norm], decay 0.997, epsilon 0.001, scale,
                                  center, is_training)
Batchnorm parameters, which TF takes from nested arg scopes:
  backbone: resnet_arg_scope puts normalizer_params = {decay 0.997, epsilon 1e-5, scale True}
            on slim.conv2d; the config's override scope (override_base_feature_extractor_
            hyperparams) sets conv2d's activation, initializer and normalizer_fn but NOT
            normalizer_params, and explicit keyword arguments beat slim.batch_norm's arg scope,
            so the backbone's batchnorm epsilon stays 1e-5 (TF1's fused kernel raises epsilons
            below 1.001e-5 to 1.001e-5; the script prints the effect: ~2e-7 of the outputs' scale).
            The activation of stem, conv1 and conv2 is the override's ReLU6; the residual add
            is followed by tf.nn.relu (use_bounded_activations is False).
  fpn, predictor: only the config's scope: epsilon 0.001.
  training: normalisation with the batch mean and the biased batch variance (TF's fused batch
            norm and tf.nn.moments both normalise with the biased one); inference: the moving
            statistics. (freeze_batchnorm: true in the config does NOT freeze the slim
            extractor's batchnorm in TF1: ssd_meta_arch's outer arg_scope sets is_training=False
            but the inner conv_hyperparams scope sets is_training again, and the inner one wins.)

The network code below uses TF's variable names and layouts (conv weights HWIO); the fixture
stores them renamed to trainer's names and transposed to OHWI. Parameterised by width (TF:
root depth 64 and base depths 64/128/256/512; here root = base = WIDTH), FPN depth, predictor
depth and layers, classes, anchors per location and input size; the fixture uses width 8,
depth 16, 4 predictor layers, 3 classes, 6 anchors per location, 2 images of 128x128
(P3..P7 = 16, 8, 4, 2, 1). TF's extractor itself refuses images under 129 pixels
(shape_utils.check_min_image_dim); that check is no part of the network's arithmetic, and the
--image-size 320 / 352 runs cover legal sizes.

Fixture (tests/models/data/):
  ssd_network_weights.safetensors  every parameter and batchnorm statistic of the model, F16
                                   (values drawn in float64 and rounded to f16, so the file is
                                   half the size and both sides start from the same exact
                                   numbers; the test widens them to f32)
  ssd_network_io.safetensors       "input" F16 [2,128,128,3]; F32 "train.box_codes",
                                   "train.class_logits", "infer.box_codes", "infer.class_logits";
                                   I64 "fpn_shapes" [5,4]; F32 "train.batch_stat.<buffer name>":
                                   the batch mean / Bessel-corrected batch variance each
                                   batchnorm's moving average takes in a training step;
                                   __metadata__ holds the config
The reference runs in float64; the moving statistics are the training pass's batch statistics,
perturbed (var' = var + median(var) / 10, mean + 0.2 sqrt(var') N(0,1), var' x U(0.6, 1.6))
and rounded to f16, so inference runs on
realistic, non-degenerate activations.
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DATA = os.path.join(ROOT, "tests", "models", "data")
WEIGHTS_FILE = os.path.join(DATA, "ssd_network_weights.safetensors")
IO_FILE = os.path.join(DATA, "ssd_network_io.safetensors")

CONFIG = dict(width=8, blocks=[3, 4, 6, 3], fpn_depth=16, fpn_min_level=3, fpn_max_level=7,
              predictor_depth=16, predictor_layers=4, num_classes=3, anchors_per_location=6,
              box_code_size=4, batch=2, image_size=128, backbone_bn_epsilon=1e-5, bn_epsilon=1e-3,
              seed=20240521)


# ---------------------------------------------------------------------------------------------
# TF padding and pooling, NCHW tensors inside (torch), NHWC at the boundaries.

def same_pads(n, k, s):
    """TF 'SAME': output ceil(n / s), total padding max((out-1)*s + k - n, 0), the odd pixel after."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv_same(x, w_hwio, stride=1):
    """tf.nn.conv2d(..., padding='SAME') with an HWIO kernel."""
    k_h, k_w = w_hwio.shape[0], w_hwio.shape[1]
    top, bottom = same_pads(x.shape[2], k_h, stride)
    left, right = same_pads(x.shape[3], k_w, stride)
    x = F.pad(x, (left, right, top, bottom))
    return F.conv2d(x, w_hwio.permute(3, 2, 0, 1), stride=stride)


def conv_valid(x, w_hwio, stride=1):
    return F.conv2d(x, w_hwio.permute(3, 2, 0, 1), stride=stride)


def max_pool_same(x, k, s):
    """slim.max_pool2d with padding='SAME': padded cells never win (TF pads with -inf)."""
    top, bottom = same_pads(x.shape[2], k, s)
    left, right = same_pads(x.shape[3], k, s)
    x = F.pad(x, (left, right, top, bottom), value=-math.inf)
    return F.max_pool2d(x, k, s)


def relu6(x):
    return torch.clamp(x, 0.0, 6.0)


def nearest_neighbor_upsampling(x, scale):
    return x.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)


# ---------------------------------------------------------------------------------------------
# The network, with TF's variable names.

class Net:
    """Parameters by TF name (conv kernels HWIO); `training` picks batch or moving statistics;
    batch statistics are recorded by batchnorm scope (for the moving ones of the fixture)."""

    def __init__(self, cfg, params, training, backbone_eps=None):
        self.cfg = cfg
        self.p = params
        self.training = training
        self.backbone_eps = cfg["backbone_bn_epsilon"] if backbone_eps is None else backbone_eps
        self.batch_stats = {}
        self.endpoints = {}

    def batch_norm(self, x, scope, eps):
        gamma, beta = self.p[scope + "/gamma"], self.p[scope + "/beta"]
        if self.training:
            mean = x.mean(dim=(0, 2, 3))
            var = x.var(dim=(0, 2, 3), unbiased=False)
            self.batch_stats[scope] = (mean, var, x.numel() // x.shape[1])
        else:
            mean, var = self.p[scope + "/moving_mean"], self.p[scope + "/moving_variance"]
        inv = gamma / torch.sqrt(var + eps)
        return (x - mean[None, :, None, None]) * inv[None, :, None, None] + beta[None, :, None, None]

    # slim.conv2d inside the backbone: conv (no bias: a normalizer is set), BN, activation.
    def backbone_conv(self, x, scope, stride=1, act=relu6, padding="SAME"):
        w = self.p[scope + "/weights"]
        x = conv_same(x, w, stride) if padding == "SAME" else conv_valid(x, w, stride)
        x = self.batch_norm(x, scope + "/BatchNorm", self.backbone_eps)
        return act(x) if act is not None else x

    def conv2d_same(self, x, scope, k, stride):
        if stride == 1:
            return self.backbone_conv(x, scope, 1)
        pad_total = k - 1
        beg, end = pad_total // 2, pad_total - pad_total // 2
        x = F.pad(x, (beg, end, beg, end))
        return self.backbone_conv(x, scope, stride, padding="VALID")

    def subsample(self, x, factor):
        return x if factor == 1 else max_pool_same(x, 1, factor)

    def bottleneck(self, x, scope, depth, depth_bottleneck, stride):
        depth_in = x.shape[1]
        if depth == depth_in:
            shortcut = self.subsample(x, stride)
        else:
            shortcut = self.backbone_conv(x, scope + "/shortcut", stride, act=None)
        r = self.backbone_conv(x, scope + "/conv1", 1)
        r = self.conv2d_same(r, scope + "/conv2", 3, stride)
        r = self.backbone_conv(r, scope + "/conv3", 1, act=None)
        return torch.relu(shortcut + r)

    def resnet_v1_50(self, x):
        cfg = self.cfg
        base = cfg["width"]
        blocks = [("block1", base, cfg["blocks"][0], 2), ("block2", 2 * base, cfg["blocks"][1], 2),
                  ("block3", 4 * base, cfg["blocks"][2], 2), ("block4", 8 * base, cfg["blocks"][3], 1)]
        s = "FeatureExtractor/resnet_v1_50"
        net = self.conv2d_same(x, s + "/conv1", 7, 2)
        net = max_pool_same(net, 3, 2)
        for name, base_depth, units, stride in blocks:
            args = [dict(depth=4 * base_depth, depth_bottleneck=base_depth, stride=1)] * (units - 1) + \
                   [dict(depth=4 * base_depth, depth_bottleneck=base_depth, stride=stride)]
            block_stride = 1
            for i, unit in enumerate(args):
                if i == len(args) - 1:  # store_non_strided_activations=True
                    block_stride = unit["stride"]
                    unit = dict(unit, stride=1)
                net = self.bottleneck(net, "%s/%s/unit_%d/bottleneck_v1" % (s, name, i + 1), **unit)
            self.endpoints[name] = net
            net = self.subsample(net, block_stride)
        return self.endpoints

    def fpn_conv(self, x, scope, stride=1):  # slim.conv2d under the config's arg scope
        x = conv_same(x, self.p[scope + "/weights"], stride)
        x = self.batch_norm(x, scope + "/BatchNorm", self.cfg["bn_epsilon"])
        return relu6(x)

    def projection(self, x, scope):  # activation_fn=None, normalizer_fn=None: bias added
        return conv_same(x, self.p[scope + "/weights"]) + self.p[scope + "/biases"][None, :, None, None]

    def extract_features(self, images_nhwc):
        cfg = self.cfg
        x = images_nhwc.permute(0, 3, 1, 2)
        feats = self.resnet_v1_50(x)
        base_max = min(cfg["fpn_max_level"], 5)
        keys = ["block%d" % (level - 1) for level in range(cfg["fpn_min_level"], base_max + 1)]
        image_features = [(k, feats[k]) for k in keys]
        s = "FeatureExtractor/fpn"
        num_levels = len(image_features)
        top_down = self.projection(image_features[-1][1], "%s/projection_%d" % (s, num_levels))
        out = {"top_down_" + image_features[-1][0]: top_down}
        for level in reversed(range(num_levels - 1)):
            top_down = nearest_neighbor_upsampling(top_down, 2)
            residual = self.projection(image_features[level][1], "%s/projection_%d" % (s, level + 1))
            top_down = top_down + residual
            out["top_down_" + image_features[level][0]] = self.fpn_conv(top_down, "%s/smoothing_%d" % (s, level + 1))
        maps = [out["top_down_block%d" % (level - 1)] for level in range(cfg["fpn_min_level"], base_max + 1)]
        last = out["top_down_block%d" % (base_max - 1)]
        for i in range(base_max, cfg["fpn_max_level"]):
            last = self.fpn_conv(last, "%s/bottom_up_block%d" % (s, i), stride=2)
            maps.append(last)
        return maps

    def tower(self, x, name, feature_index):
        s = "WeightSharedConvolutionalBoxPredictor/" + name
        for i in range(self.cfg["predictor_layers"]):
            x = conv_same(x, self.p["%s/conv2d_%d/weights" % (s, i)])
            x = self.batch_norm(x, "%s/conv2d_%d/BatchNorm/feature_%d" % (s, i, feature_index), self.cfg["bn_epsilon"])
            x = relu6(x)
        return x

    def head(self, x, name, per_anchor):
        s = "WeightSharedConvolutionalBoxPredictor/" + name
        y = conv_same(x, self.p[s + "/weights"]) + self.p[s + "/biases"][None, :, None, None]
        y = y.permute(0, 2, 3, 1)  # NHWC, then tf.reshape([batch, -1, per_anchor])
        return y.reshape(y.shape[0], -1, per_anchor)

    def predict(self, images_nhwc):
        maps = self.extract_features(images_nhwc)
        self.feature_maps = maps
        boxes, classes = [], []
        for j, m in enumerate(maps):
            boxes.append(self.head(self.tower(m, "BoxPredictionTower", j), "BoxPredictor", self.cfg["box_code_size"]))
            classes.append(self.head(self.tower(m, "ClassPredictionTower", j), "ClassPredictor",
                                     self.cfg["num_classes"] + 1))
        return torch.cat(boxes, dim=1), torch.cat(classes, dim=1)


# ---------------------------------------------------------------------------------------------
# Variables: TF names and shapes, random values, and trainer's names.

def variables(cfg):
    """(tf_name, shape, kind): every variable the TF graph creates, conv kernels HWIO."""
    v = []

    def bn(scope, c, moving=True):
        v.append((scope + "/gamma", (c,), "gamma"))
        v.append((scope + "/beta", (c,), "beta"))
        if moving:
            v.append((scope + "/moving_mean", (c,), "moving_mean"))
            v.append((scope + "/moving_variance", (c,), "moving_variance"))

    def conv(scope, k, cin, cout, with_bn=True, bias=False):
        v.append((scope + "/weights", (k, k, cin, cout), "weights"))
        if bias:
            v.append((scope + "/biases", (cout,), "biases"))
        if with_bn:
            bn(scope + "/BatchNorm", cout)

    s = "FeatureExtractor/resnet_v1_50"
    base = cfg["width"]
    conv(s + "/conv1", 7, 3, base)
    cin = base
    for b, units in enumerate(cfg["blocks"]):
        d = base * 2 ** b
        for u in range(units):
            scope = "%s/block%d/unit_%d/bottleneck_v1" % (s, b + 1, u + 1)
            if cin != 4 * d:
                conv(scope + "/shortcut", 1, cin, 4 * d)
            conv(scope + "/conv1", 1, cin, d)
            conv(scope + "/conv2", 3, d, d)
            conv(scope + "/conv3", 1, d, 4 * d)
            cin = 4 * d
    depth = cfg["fpn_depth"]
    f = "FeatureExtractor/fpn"
    channels = [4 * base * 2 ** (level - 2) for level in (3, 4, 5)]
    for k, c in enumerate(channels):
        conv("%s/projection_%d" % (f, k + 1), 1, c, depth, with_bn=False, bias=True)
    for k in range(len(channels) - 1):
        conv("%s/smoothing_%d" % (f, k + 1), 3, depth, depth)
    for i in range(5, cfg["fpn_max_level"]):
        conv("%s/bottom_up_block%d" % (f, i), 3, depth, depth)
    p = "WeightSharedConvolutionalBoxPredictor"
    levels = cfg["fpn_max_level"] - cfg["fpn_min_level"] + 1
    for tower in ("BoxPredictionTower", "ClassPredictionTower"):
        cin = depth
        for i in range(cfg["predictor_layers"]):
            conv("%s/%s/conv2d_%d" % (p, tower, i), 3, cin, cfg["predictor_depth"], with_bn=False)
            cin = cfg["predictor_depth"]
            for j in range(levels):
                bn("%s/%s/conv2d_%d/BatchNorm/feature_%d" % (p, tower, i, j), cfg["predictor_depth"])
    a = cfg["anchors_per_location"]
    conv(p + "/BoxPredictor", 3, cfg["predictor_depth"], a * cfg["box_code_size"], with_bn=False, bias=True)
    conv(p + "/ClassPredictor", 3, cfg["predictor_depth"], a * (cfg["num_classes"] + 1), with_bn=False, bias=True)
    return v


def trainer_name(tf_name):
    """TF variable name -> trainer's parameter / buffer name."""
    parts = tf_name.split("/")
    leaf = {"weights": "weight", "biases": "bias", "gamma": "gamma", "beta": "beta",
            "moving_mean": "running_mean", "moving_variance": "running_var"}[parts[-1]]
    if parts[0] == "FeatureExtractor" and parts[1] == "resnet_v1_50":
        if parts[2] == "conv1":
            layer = "conv1"
        else:
            block = int(parts[2][len("block"):])
            unit = int(parts[3][len("unit_"):]) - 1
            layer = "layer%d.%d.%s" % (block, unit, parts[5])
        return "backbone.%s.%s.%s" % (layer, "bn" if "BatchNorm" in parts else "conv", leaf)
    if parts[0] == "FeatureExtractor" and parts[1] == "fpn":
        scope = parts[2]
        if scope.startswith("projection_"):
            return "fpn.lateral%d.%s" % (int(scope[len("projection_"):]) + 2, leaf)
        if scope.startswith("smoothing_"):
            layer = "smooth%d" % (int(scope[len("smoothing_"):]) + 2)
        else:
            layer = "extra%d" % (int(scope[len("bottom_up_block"):]) + 1)
        return "fpn.%s.%s.%s" % (layer, "bn" if "BatchNorm" in parts else "conv", leaf)
    assert parts[0] == "WeightSharedConvolutionalBoxPredictor"
    if parts[1] in ("BoxPredictor", "ClassPredictor"):
        return "predictor.%s.%s" % ("box_head" if parts[1] == "BoxPredictor" else "class_head", leaf)
    tower = "box_tower" if parts[1] == "BoxPredictionTower" else "class_tower"
    i = int(parts[2][len("conv2d_"):])
    if "BatchNorm" in parts:
        j = int(parts[4][len("feature_"):])
        return "predictor.%s.conv%d.level%d.bn.%s" % (tower, i, j, leaf)
    return "predictor.%s.conv%d.%s" % (tower, i, leaf)


def f16_exact(a):
    return np.asarray(a, dtype=np.float64).astype(np.float16).astype(np.float64)


def random_params(cfg, rng):
    """Conv kernels He-normal over fan-in, gammas U(0.5, 3) (so some ReLU6 clip), betas
    U(-1, 1.5), biases U(-0.5, 0.5); all rounded to f16. Moving statistics: placeholders."""
    p = {}
    for name, shape, kind in variables(cfg):
        if kind == "weights":
            fan_in = shape[0] * shape[1] * shape[2]
            a = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
        elif kind == "gamma":
            a = rng.uniform(0.5, 3.0, shape)
        elif kind == "beta":
            a = rng.uniform(-1.0, 1.5, shape)
        elif kind == "biases":
            a = rng.uniform(-0.5, 0.5, shape)
        elif kind == "moving_mean":
            a = np.zeros(shape)
        else:
            a = np.ones(shape)
        p[name] = torch.from_numpy(f16_exact(a))
    return p


# ---------------------------------------------------------------------------------------------
# safetensors (8-byte little-endian header length, JSON header, raw little-endian bytes).

ST_DTYPES = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    rev = {v: k for k, v in ST_DTYPES.items()}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype=rev[e["dtype"]]).reshape(e["shape"])
    return out, header.get("__metadata__", {})


# ---------------------------------------------------------------------------------------------

def run(cfg, params, images, training, dtype=torch.float64, backbone_eps=None):
    p = {k: v.to(dtype) for k, v in params.items()}
    net = Net(cfg, p, training, backbone_eps)
    with torch.no_grad():
        boxes, classes = net.predict(images.to(dtype))
    return net, boxes, classes


def max_rel(a, b):
    """max |a - b| over max |b| (scale-relative), and max |a - b| / (|b| + 1e-3 max|b|)."""
    a, b = a.double(), b.double()
    scale = b.abs().max()
    return float((a - b).abs().max() / scale), float(((a - b).abs() / (b.abs() + 1e-3 * scale)).max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="recompute and compare with the stored fixture")
    ap.add_argument("--image-size", type=int, default=CONFIG["image_size"],
                    help="for extra checks outside the repository (a multiple of 32, e.g. 320)")
    ap.add_argument("--out-dir", default=DATA, help="where to write the two files")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="override a CONFIG entry for an extra check, e.g. width=64 fpn_depth=256")
    args = ap.parse_args()
    cfg = dict(CONFIG, image_size=args.image_size)
    for kv in args.set:
        key, value = kv.split("=", 1)
        assert key in cfg, key
        cfg[key] = json.loads(value)
    weights_file = os.path.join(args.out_dir, os.path.basename(WEIGHTS_FILE))
    io_file = os.path.join(args.out_dir, os.path.basename(IO_FILE))
    rng = np.random.default_rng(cfg["seed"])
    params = random_params(cfg, rng)
    n, s = cfg["batch"], cfg["image_size"]
    # Preprocessed images: pixels in [0, 255] minus the VGG channel means, as the extractor's
    # preprocess() gives; white noise, so any spatial misalignment shows.
    images = rng.uniform(0.0, 255.0, (n, s, s, 3)) - np.array([123.68, 116.779, 103.939])
    images = torch.from_numpy(f16_exact(images))

    # Training pass: batch statistics. Then moving statistics near them, and the inference pass.
    net_t, box_t, cls_t = run(cfg, params, images, True)
    # (The variance is floored at a tenth of the layer's median: on P7, 1x1 with 2 images, a batch
    # variance can be ~1e-6, and dividing by sqrt(1e-6 + 0.001) in inference would amplify
    # float32 round-off 30-fold per layer.)
    for scope, (mean, var, _) in net_t.batch_stats.items():
        c = mean.shape[0]
        var = var.numpy() + 0.1 * np.median(var.numpy())
        params[scope + "/moving_mean"] = torch.from_numpy(
            f16_exact(mean.numpy() + 0.2 * np.sqrt(var) * rng.standard_normal(c)))
        params[scope + "/moving_variance"] = torch.from_numpy(f16_exact(var * rng.uniform(0.6, 1.6, c)))
    assert set(net_t.batch_stats) == {k[:-len("/gamma")] for k in params if k.endswith("/gamma")}
    net_i, box_i, cls_i = run(cfg, params, images, False)

    # Diagnostics: how much of the network is active, and the float32 round-off to expect.
    for label, net in (("train", net_t), ("infer", net_i)):
        shapes = [tuple(m.shape) for m in net.feature_maps]
        print(label, "FPN levels (NCHW):", shapes)
        for k, m in enumerate(net.feature_maps):
            print("  P%d: zero %.3f, at 6 %.3f, mean %.3f" % (
                k + 3, float((m == 0).double().mean()), float((m == 6).double().mean()), float(m.mean())))
    for label, training, (b64, c64) in (("train", True, (box_t, cls_t)), ("infer", False, (box_i, cls_i))):
        _, b32, c32 = run(cfg, params, images, training, torch.float32)
        print(label, "float32 vs float64: box codes", max_rel(b32, b64), "class logits", max_rel(c32, c64))
        _, be, ce = run(cfg, params, images, training, backbone_eps=1.001e-5)
        print(label, "backbone epsilon 1.001e-5 vs 1e-5: box codes", max_rel(be, b64), "class logits", max_rel(ce, c64))
        print(label, "box codes range [%.3f, %.3f], class logits range [%.3f, %.3f]" % (
            float(b64.min()), float(b64.max()), float(c64.min()), float(c64.max())))

    # TF kernels are HWIO [kh, kw, in, out]; trainer's are OHWI [out, kh, kw, in].
    weights = {trainer_name(k): (v.permute(3, 0, 1, 2) if k.endswith("/weights") else v).contiguous().numpy()
               .astype(np.float16) for k, v in params.items()}
    assert len(weights) == len(params)
    fpn_shapes = np.array([[m.shape[0], m.shape[2], m.shape[3], m.shape[1]] for m in net_t.feature_maps], np.int64)
    io = {
        "input": images.numpy().astype(np.float16),
        "train.box_codes": box_t.numpy().astype(np.float32),
        "train.class_logits": cls_t.numpy().astype(np.float32),
        "infer.box_codes": box_i.numpy().astype(np.float32),
        "infer.class_logits": cls_i.numpy().astype(np.float32),
        "fpn_shapes": fpn_shapes,
    }
    # What one training step feeds into each moving average: the batch mean and the batch
    # variance WITH Bessel's correction (TF's FusedBatchNorm kernel returns batch_var =
    # variance * n / (n - 1) while normalising with the biased one; the moving averages of
    # slim/Keras batch_norm are updated from that output).
    for scope, (mean, var, count) in net_t.batch_stats.items():
        bn = trainer_name(scope + "/moving_mean")[:-len(".running_mean")]
        io["train.batch_stat.%s.running_mean" % bn] = mean.numpy().astype(np.float32)
        io["train.batch_stat.%s.running_var" % bn] = (var * count / (count - 1)).numpy().astype(np.float32)
    meta = {k: json.dumps(v) for k, v in cfg.items()}
    if args.check:
        w_old, _ = read_safetensors(weights_file)
        io_old, _ = read_safetensors(io_file)
        assert set(w_old) == set(weights) and set(io_old) == set(io)
        for k in weights:
            assert np.array_equal(w_old[k], weights[k]), k
        for k in io:
            assert np.array_equal(io_old[k], io[k]), k
        print("fixture reproduced exactly")
        return
    os.makedirs(args.out_dir, exist_ok=True)
    write_safetensors(weights_file, weights, meta)
    write_safetensors(io_file, io, meta)
    print("wrote", weights_file, os.path.getsize(weights_file), "bytes;", io_file, os.path.getsize(io_file), "bytes")


if __name__ == "__main__":
    main()
