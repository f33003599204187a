#!/usr/bin/env bash
# The README's first command: install what is missing, build, and train the demo model
# (a reduced ResNet on Fashion-MNIST, a few minutes on 2 cores), then evaluate it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install_deps.sh"
# Only what it runs: the executable, not the tests (scripts/test.sh builds those).
"$root/scripts/build.sh" -DTRAINER_CUDA=OFF -DTRAINER_TESTS=OFF
cd "$root"
exec build/trainer --config configs/demo/fashion_mnist_resnet.pbtxt "$@"
