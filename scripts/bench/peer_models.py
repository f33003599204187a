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
