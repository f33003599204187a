#!/bin/sh
# Runs inside NVIDIA's CUDA devel image (docker/Dockerfile.cuda): gathers the CUDA toolkit,
# cuDNN and NCCL into /bundle with their paths unchanged, for the Debian 12 stage to copy.
# Library version links (libnccl.so -> libnccl.so.2) are copied as links; the links Ubuntu's
# packages route through /etc/alternatives (cudnn.h, libcudnn.so) would dangle on Debian, so
# they become direct links to what they resolve to.
set -eu
mkdir -p /bundle/usr/local
cp -a "$(readlink -f /usr/local/cuda)" /bundle/usr/local/
ln -s "$(basename "$(readlink -f /usr/local/cuda)")" /bundle/usr/local/cuda
for f in /usr/include/cudnn*.h /usr/include/x86_64-linux-gnu/cudnn*.h /usr/include/nccl*.h \
         /usr/lib/x86_64-linux-gnu/libcudnn* /usr/lib/x86_64-linux-gnu/libnccl*; do
  [ -e "$f" ] || continue
  mkdir -p "/bundle$(dirname "$f")"
  case "$(readlink "$f" || true)" in
    /etc/alternatives/*) ln -s "$(readlink -f "$f")" "/bundle$f" ;;
    *) cp -a "$f" "/bundle$f" ;;
  esac
done
ls /bundle/usr/include/cudnn.h /bundle/usr/include/nccl.h > /dev/null
