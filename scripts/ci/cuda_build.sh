#!/usr/bin/env bash
# CI step: the CUDA backend compiles and links (src/kernels/cuda/README.md). Configures a
# separate build directory with -DTRAINER_CUDA=ON, compiles every .cu with nvcc (device-code
# warnings are errors) and links the trainer executable (whose ops dispatch to these kernels
# and to cuDNN / cuBLASLt) and the GPU test binary, cuda_gpu_tests, against the CUDA kernels
# library, libcudart, cuDNN 9 and cuBLAS(Lt). Nothing runs here (no GPU): the kernels
# themselves are exercised on the CPU by `ctest -R cuda_emu` in the main build, and on a
# machine with a GPU `ctest -R cuda_gpu` in this build directory runs the same tests against
# the nvcc build.
#
# Environment:
#   TRAINER_CUDA_BUILD_DIR   build directory (default: build-cuda next to the sources)
#   TRAINER_CUDA_ARCHS       CMAKE_CUDA_ARCHITECTURES (default: 80-real;90, i.e. Ampere SASS and
#                            Hopper SASS + PTX: a subset of the release archs, to save CI time)
#   TRAINER_CUDA_TARGETS     what to build (default: trainer cuda_gpu_tests)
#   TRAINER_CUDA_JOBS        parallel compile jobs (default: the number of cores)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TRAINER_CUDA_BUILD_DIR:-$root/build-cuda}
archs=${TRAINER_CUDA_ARCHS:-80-real;90}
read -r -a targets <<< "${TRAINER_CUDA_TARGETS:-trainer cuda_gpu_tests}"
jobs=${TRAINER_CUDA_JOBS:-$(nproc)}
export PATH="$PATH:/usr/local/cuda/bin"

start=$(date +%s)
# Tests are configured (not built) so that cuda_gpu_tests exists as a target.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRAINER_CUDA=ON -DTRAINER_TESTS=ON \
  "-DCMAKE_CUDA_ARCHITECTURES=$archs"
ninja -C "$build" -j "$jobs" "${targets[@]}"
echo "cuda_build: built ${targets[*]} for CUDA architectures '$archs' in $(( $(date +%s) - start )) s"
