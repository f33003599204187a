#!/usr/bin/env bash
# CI gate: runs a README command on a brand-new minimal Debian 12, as a new user would.
#
#   scripts/ci/fresh_machine.sh [COMMAND]        (as root; default: scripts/quickstart.sh)
#
# A green test run on a used machine proves nothing about a fresh one: packages installed by
# earlier work hide a missing step in scripts/install_deps.sh or a missing find_package
# dependency. So this script makes a minimal Debian 12 root (debootstrap --variant=minbase; once,
# then reused from a cache outside the clone), clones the committed HEAD of this repository into
# it, and runs COMMAND there under chroot as root with an empty environment. Its exit status is
# the command's.
#
# What the root gets from this machine, and why: only its network settings (name resolution,
# APT's Acquire options, pip.conf, proxy variables and local certificate authorities), so that
# the fresh root reaches Debian's archive and PyPI the way this machine does. Downloaded .deb
# files are kept in the cache too (a bind mount over the root's /var/cache/apt/archives): every
# package is still unpacked and configured from scratch; only the download is saved.
#
# Environment:
#   TRAINER_FRESH_CACHE   cache directory (default /var/cache/trainer-fresh-machine)
#   TRAINER_FRESH_KEEP=1  keep the root afterwards, to look around (its path is printed)
#   TRAINER_FRESH_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "fresh_machine: run as root (debootstrap and chroot need it)" >&2; exit 2; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command=${*:-scripts/quickstart.sh}
cache=${TRAINER_FRESH_CACHE:-/var/cache/trainer-fresh-machine}
mirror=${TRAINER_FRESH_MIRROR:-http://deb.debian.org/debian}
base=$cache/bookworm-minbase
work=$(mktemp -d /var/tmp/trainer-fresh.XXXXXX)
root=$work/root
log=$work/log

if [ ! -f "$base/.complete" ]; then
  if ! command -v debootstrap > /dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null
  fi
  echo "fresh_machine: creating the minimal Debian 12 base (once) in $base"
  rm -rf "$base"
  mkdir -p "$cache"
  if ! debootstrap --variant=minbase bookworm "$base" "$mirror" > "$cache/debootstrap.log" 2>&1; then
    tail -20 "$cache/debootstrap.log" >&2
    echo "fresh_machine: debootstrap failed (log: $cache/debootstrap.log)" >&2
    exit 1
  fi
  touch "$base/.complete"
fi

echo "fresh_machine: copying the base and cloning the committed HEAD of $repo"
cp -a "$base" "$root"
git clone -q "$repo" "$root/root/trainer"

# This machine's network settings, nothing else.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
for f in /etc/apt/apt.conf.d/*; do
  grep -qs "Acquire" "$f" && cp "$f" "$root/etc/apt/apt.conf.d/"
done
# Local certificate authorities go where the root's own ca-certificates package picks them up
# when install_deps.sh installs it; until then nothing in the root speaks TLS.
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
network_env=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL PIP_EXTRA_INDEX_URL \
         PIP_CERT PIP_DEFAULT_TIMEOUT; do
  [ -n "${!v:-}" ] && network_env+=("$v=${!v}")
done

mkdir -p "$cache/apt-archives/partial" "$root/var/cache/apt/archives"
cleanup() {
  for m in var/cache/apt/archives dev sys proc; do
    mountpoint -q "$root/$m" && umount -l "$root/$m"
  done
  if [ -n "${TRAINER_FRESH_KEEP:-}" ]; then
    echo "fresh_machine: root kept at $root"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"

echo "fresh_machine: running '$command' in a fresh Debian 12 root (log: $log)"
start=$(date +%s)
set +e
chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${network_env[@]}" \
  /bin/bash -c "cd /root/trainer && $command" > "$log" 2>&1
status=$?
set -e
elapsed=$(( $(date +%s) - start ))
if [ $status -eq 0 ]; then
  tail -15 "$log"
else
  tail -80 "$log"
  [ -n "${TRAINER_FRESH_KEEP:-}" ] || cp "$log" "$cache/last-failure.log"
fi
echo "fresh_machine: '$command' exited $status after ${elapsed} s"
exit $status
