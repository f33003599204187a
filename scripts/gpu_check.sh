#!/usr/bin/env bash
# For whoever has an NVIDIA GPU: the checks of the CUDA backend that no CPU machine can run.
#   1. builds the CUDA backend (nvcc for this machine's GPU) with the trainer and its GPU tests;
#   2. runs the kernel tests on the device (`ctest -R cuda_gpu`: every kernel against the CPU
#      backend, the same comparisons the emulator runs in CI, plus cuDNN and cuBLASLt);
#   3. trains the reduced ResNet-50 for 20 steps on device CUDA with conv_backend NATIVE and
#      CUDNN and on the CPU, and prints the three loss curves side by side;
#   4. benchmarks ResNet-50 v1.5 (batch 256), SSD320 (batch 32) and EfficientDet-D0 (NVIDIA's
#      batches 104 and 200) in TF32 and BF16 on both conv backends, training and inference
#      (post-processing included), and prints imgs/s beside NVIDIA's published A100 numbers
#      (src/kernels/cuda/README.md has the sources and the roofline projection).
# Takes ~10 min on an H100 after the build. Nothing is downloaded: benchmarks use synthetic data.
#
# Environment:
#   TRAINER_GPU_BUILD_DIR  build directory (default: build-gpu next to the sources)
#   TRAINER_CUDA_ARCHS     CMAKE_CUDA_ARCHITECTURES (default: native, this machine's GPU)
#   GPU_CHECK_STEPS        benchmark steps after warm-up (default 50)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TRAINER_GPU_BUILD_DIR:-$root/build-gpu}
archs=${TRAINER_CUDA_ARCHS:-native}
steps=${GPU_CHECK_STEPS:-50}
export PATH="$PATH:/usr/local/cuda/bin"

section() { printf '\n== %s\n' "$*"; }

section "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv

section "build (CUDA architectures: $archs)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRAINER_CUDA=ON -DTRAINER_TESTS=ON \
  "-DCMAKE_CUDA_ARCHITECTURES=$archs" > "$build.configure.log"
ninja -C "$build" trainer cuda_gpu_tests

section "kernel tests on the device against the CPU backend"
ctest --test-dir "$build" -R cuda_gpu --output-on-failure -j 4

trainer="$build/trainer"
small_resnet='model { classifier { image_size: 64 resnet { width: 16 blocks_per_stage: [1, 1, 1, 1] } } }
  train_input_reader { synthetic_input_reader { num_examples: 2048 } }
  eval_input_reader { synthetic_input_reader { num_examples: 64 } }
  train_config { batch_size: 32 num_steps: 20 }
  runtime { log_every_n_steps: 1 checkpoint_every_n_steps: 0 }'

section "20 training steps: CPU vs CUDA NATIVE vs CUDA CUDNN (losses must track each other)"
for run in "CPU NATIVE" "CUDA NATIVE" "CUDA CUDNN"; do
  read -r device backend <<< "$run"
  "$trainer" --config "$root/configs/resnet50_v1_5.pbtxt" --mode train --override "$small_resnet" \
    --override "runtime { device: $device conv_backend: $backend }" 2>&1 |
    grep -E '^step ' | awk -v tag="$device/$backend" '{print tag, $2, $4}' > "$build/steps-$device-$backend.txt"
done
paste "$build/steps-CPU-NATIVE.txt" "$build/steps-CUDA-NATIVE.txt" "$build/steps-CUDA-CUDNN.txt" |
  awk '{printf "%-8s cpu %-9s native %-9s cudnn %s\n", $2, $3, $6, $9}'

bench() {  # config, precision, conv backend, extra override
  "$trainer" --config "$1" --mode benchmark \
    --override "runtime { device: CUDA conv_backend: $3 } precision { compute_dtype: $2 }" \
    --override "benchmark { warmup_steps: 10 steps: $steps inference_warmup_steps: 10 inference_steps: $steps
      synthetic_data: true }" --override "$4" 2>/dev/null |
    grep -E 'imgs/sec|peak' | tr '\n' ' '
  echo
}

section "ResNet-50 v1.5, batch 256 (NVIDIA, 1x A100 40GB with XLA: TF32 909 img/s, AMP 2375 img/s)"
for precision in TF32 BF16; do
  for backend in NATIVE CUDNN; do
    printf '%-5s %-7s ' "$precision" "$backend"
    bench "$root/configs/resnet50_v1_5.pbtxt" "$precision" "$backend" 'train_config { batch_size: 256 }'
  done
done

section "SSD320 ResNet-50 FPN, batch 32 (NVIDIA, 1x A100 40GB: TF32 123.5 img/s, AMP 180.6 img/s)"
for precision in TF32 BF16; do
  for backend in NATIVE CUDNN; do
    printf '%-5s %-7s ' "$precision" "$backend"
    bench "$root/configs/tfod/ssd320_bench.config" "$precision" "$backend" 'train_config { batch_size: 32 }'
  done
done

section "EfficientDet-D0 512x512 (NVIDIA TF2, 1x A100 80GB: training TF32 162 img/s at batch 104, AMP 397 at 200;"
echo "   inference with post-processing at batch 16: TF32 250 img/s, FP16 276)"
for run in "TF32 104" "BF16 200"; do
  read -r precision batch <<< "$run"
  for backend in NATIVE CUDNN; do
    printf '%-5s %-7s ' "$precision" "$backend"
    bench "$root/configs/tfod/ssd_efficientdet_d0_512x512_coco17_tpu-8.config" "$precision" "$backend" \
      "train_config { batch_size: $batch } benchmark { inference_batch_size: 16 }"
  done
done
