#!/usr/bin/env bash
# Mutation check of the test suite (not part of CI: it rebuilds once per mutant, ~20-40 min).
#
#   scripts/ci/mutants.sh [NAME_FILTER]
#
# Plants the small mistakes listed in scripts/ci/mutants.py into src/train, src/ops,
# src/kernels/cpu and the classification task one at a time, rebuilds the affected tests in
# build-mutants/ (a build directory of its own, so build/ is left alone), runs them, restores
# the source, and prints which mutants the tests caught and which survived (exit status 1 if any
# survived).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
"$root/scripts/install_deps.sh" > /dev/null
cmake -S "$root" -B "$root/build-mutants" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRAINER_CUDA=OFF \
  -DTRAINER_TESTS=ON > /dev/null
exec python3 "$root/scripts/ci/mutants.py" --root "$root" --build "$root/build-mutants" "$@"
