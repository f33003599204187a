"""The peers' models, synthetic inputs and training recipes, written once for every bench
script's peer process (each runs in a process of its own and imports this module:
bench_env.peer_environment() puts this folder on its PYTHONPATH). Callers seed torch first; the
random draws happen in the order written here, so every script measures the same inputs."""
import torch
import torchvision


def resnet50(batch):
    """torchvision's resnet50 (1000 classes) and a random batch, channels_last: (model, x, y)."""
    model = torchvision.models.resnet50(num_classes=1000).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, 224, 224).to(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,))
    return model, x, y


def resnet50_training(model):
    """The recipe trainer runs for ResNet-50 v1.5: momentum SGD 0.875 with weight decay 1/32768
    except on batchnorm, cross-entropy with label smoothing 0.1: (optimizer, loss_fn)."""
    named = list(model.named_parameters())
    decay = [p for n, p in named if "bn" not in n and "downsample.1" not in n]
    rest = [p for n, p in named if "bn" in n or "downsample.1" in n]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 1 / 32768}, {"params": rest, "weight_decay": 0}],
                          lr=0.1, momentum=0.875)
    return opt, torch.nn.CrossEntropyLoss(label_smoothing=0.1)


def retinanet(batch):
    """torchvision's retinanet_resnet50_fpn at 320x320 (91 classes, channels_last), SSD320's
    closest PyPI peer, with random images and 1-7 random boxes each: (model, images, targets)."""
    model = torchvision.models.detection.retinanet_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91,
                                                               min_size=320, max_size=320)
    model = model.to(memory_format=torch.channels_last)
    images = [torch.rand(3, 320, 320) for _ in range(batch)]
    g = torch.Generator().manual_seed(1)
    targets = []
    for _ in range(batch):
        n = int(torch.randint(1, 8, (1,), generator=g))
        xy = torch.rand(n, 2, generator=g) * 240
        wh = torch.rand(n, 2, generator=g) * 70 + 10
        targets.append({"boxes": torch.cat([xy, xy + wh], 1), "labels": torch.randint(1, 91, (n,), generator=g)})
    return model, images, targets


def retinanet_optimizer(model):
    """SSD320's optimizer settings for the peer: momentum SGD 0.9, weight decay 4e-4."""
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-4)


def efficientdet_d0(batch):
    """effdet's tf_efficientdet_d0 (EfficientNet-B0 + BiFPN, 512x512, TF 'same' padding), random
    init with the TF2 zoo config's 90 classes, channels_last, with random images and 1-7 random
    boxes each: (train, predict, images, targets). train is effdet's DetBenchTrain (its anchor
    labeler on the boxes, focal loss, Huber box loss), predict its DetBenchPredict (top-k, decode,
    NMS) around the same network. The targets are in effdet's own format: boxes as y0, x0, y1, x1
    in pixels and classes 1-90, padded to 100 per image (the config's max_number_of_boxes) with
    class -1, which the labeler drops."""
    import effdet  # only the EfficientDet bench installs effdet

    model = effdet.create_model("tf_efficientdet_d0", num_classes=90, pretrained_backbone=False)
    model = model.to(memory_format=torch.channels_last)
    images = torch.rand(batch, 3, 512, 512).to(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(1)
    boxes, classes = torch.zeros(batch, 100, 4), torch.full((batch, 100), -1.0)
    for i in range(batch):
        n = int(torch.randint(1, 8, (1,), generator=g))
        yx = torch.rand(n, 2, generator=g) * 384
        hw = torch.rand(n, 2, generator=g) * 112 + 16
        boxes[i, :n] = torch.cat([yx, yx + hw], 1)
        classes[i, :n] = torch.randint(1, 91, (n,), generator=g).float()
    train = effdet.DetBenchTrain(model, create_labeler=True)
    return train, effdet.DetBenchPredict(model), images, {"bbox": boxes, "cls": classes}


def efficientdet_optimizer(model):
    """EfficientDet-D0's optimizer settings for the peer: momentum SGD 0.9, weight decay 4e-5 (the
    config's l2_regularizer weight)."""
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)


def report_timed_steps(mode, model, images, step, batch, warmup, steps, **versions):
    """The detection peers' measurement, printed as one JSON line: step() timed after `warmup`
    untimed calls, `steps` times (imgs/s and latency per step), peak RSS, the parameters, the
    network's forward FLOPs per image (inference runs only: the counter sees convolutions and
    matmuls) and the peers' versions."""
    import json, resource
    flops = 0
    if mode == "infer":
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(images[:1])
        flops = counter.get_total_flops()
    rates, latency = timed_steps(step, batch, warmup, steps)
    print(json.dumps({"imgs_per_sec": rates, "latency_ms": latency,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "params": sum(p.numel() for p in model.parameters()), "gflops_per_image": flops / 1e9,
                      "torch": torch.__version__, **versions}))


def timed_steps(step, batch, warmup, steps):
    """step() run `warmup` times untimed, then `steps` times timed: (imgs/s, latency ms) per step."""
    import time
    rates, latency = [], []
    for i in range(warmup + steps):
        t = time.perf_counter(); step(); dt = time.perf_counter() - t
        if i >= warmup:
            rates.append(batch / dt); latency.append(dt * 1e3)
    return rates, latency
