#!/usr/bin/env bash
# The README's second command: install what is missing, build the CPU backend with its tests,
# and run the whole suite (CUDA kernels included, emulated on the CPU: ctest -R cuda_emu).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install_deps.sh"
"$root/scripts/build.sh" -DTRAINER_CUDA=OFF -DTRAINER_TESTS=ON
cd "$root/build"
if ! ctest -N -R '^cuda_emu' | grep -q 'Test *#'; then
  echo "test.sh: the CUDA kernels' emulated tests (cuda_emu) are not built here: they need the CUDA" \
       "toolkit's headers (cuda_runtime.h), which this machine lacks"
fi
ctest --output-on-failure -j 2 "$@"
