#!/usr/bin/env python3
"""Writes tests/tasks/data/torchvision_resnet50_state_dict.txt: the names, dtypes and shapes of
torchvision's resnet50 state_dict, one "name dtype shape..." line each, in state_dict order —
the reference for importing torchvision weights into a ResNet backbone
(tests/tasks/fine_tune_test.cpp), without committing 100 MB of weights.

    scripts/tasks/torchvision_resnet50_names.py

torchvision comes from .venv-bench (scripts/bench/bench_env.py installs it)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import bench_env  # noqa: E402

bench_env.ensure_peers(["torch", "torchvision"])
import torchvision  # noqa: E402

OUT = os.path.join(bench_env.ROOT, "tests", "tasks", "data", "torchvision_resnet50_state_dict.txt")


def main():
    state = torchvision.models.resnet50(weights=None).state_dict()
    with open(OUT, "w") as f:
        f.write(f"# torchvision {torchvision.__version__} resnet50().state_dict(): name dtype shape\n")
        for name, t in state.items():
            f.write(f"{name} {str(t.dtype).replace('torch.', '')} {' '.join(str(d) for d in t.shape)}\n")
    print(f"wrote {OUT}: {len(state)} tensors")


if __name__ == "__main__":
    main()
