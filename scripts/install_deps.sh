#!/usr/bin/env bash
# Installs what trainer needs and is missing, non-interactively; safe to run again.
#   Debian 12 / Ubuntu packages: compiler and build tools, oneDNN (and the OpenCL headers its
#     CMake package requires, which Debian only recommends), protobuf, simdjson, libjpeg-turbo,
#     OpenCV (core, imgproc, imgcodecs), OpenMPI, GoogleTest, and the Fashion-MNIST data the
#     demo and tests train on; CA certificates so pip can reach PyPI over TLS.
#   Python: a virtual environment in .venv with the pinned test oracles
#     (scripts/requirements-test.txt: pycocotools and NumPy). Benchmarks install their own peers.
# The CUDA toolkit is not installed here: the CUDA backend is built when nvcc is present.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev ocl-icd-opencl-dev libprotobuf-dev protobuf-compiler libsimdjson-dev
  libturbojpeg0-dev libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev zlib1g-dev
  libopenmpi-dev openmpi-bin libgtest-dev libgmock-dev
  dataset-fashion-mnist
  python3 python3-venv ca-certificates
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || {
      echo "install_deps: missing packages (${missing[*]}) and not root, and sudo is not installed;" \
           "run this script as root once" >&2
      exit 1
    }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# A venv keeps the pinned oracles away from the system's Python (PEP 668).
venv="$root/.venv"
if [ ! -x "$venv/bin/python3" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python3" -m pip install -q --disable-pip-version-check -r "$root/scripts/requirements-test.txt"; then
  echo "install_deps: pip could not install scripts/requirements-test.txt into $venv" >&2
  exit 1
fi
echo "install_deps: all dependencies present"
