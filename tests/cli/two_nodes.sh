#!/usr/bin/env bash
# mpirun across two "machines" made on this one, for the cli tests (Cli.MpirunLaunchesOnTwoNodes
# ThroughAHostfile): two network namespaces joined by a veth pair, node-a at 10.77.0.1 and node-b
# at 10.77.0.2, each with a hostname of its own (a UTS namespace). mpirun runs on node-a with a
# hostfile of one slot per node, so rank 0 runs there and rank 1 on node-b, where OpenMPI's rsh
# launcher "logs in" through this script (plm_rsh_agent, in place of ssh) to start its orted
# daemon. The ranks talk over TCP on the veth pair only (btl tcp,self: no shared memory).
#
#   two_nodes.sh COMMAND [ARGS...]    runs `mpirun --hostfile <the two nodes> -np 2 COMMAND ARGS...`
#
# Prints (stderr) a line per login and, at the end, the bytes node-b received on its interface.
# Needs root and iproute2's `ip`; exits 77 (skip) when it cannot make the namespaces.
set -uo pipefail
self=$(readlink -f "$0")

case "${1:-}" in
  --as)  # --as HOSTNAME COMMAND...: in a fresh UTS namespace, take the name and run the command
    hostname "$2" || exit 1
    shift 2
    exec "$@" ;;
  --login)  # --login HOST COMMAND...: as ssh would, run the command line on HOST
    host=$2
    shift 2
    case "$host" in
      10.77.0.1) ns=$TWO_NODES_A name=node-a ;;
      10.77.0.2) ns=$TWO_NODES_B name=node-b ;;
      *) echo "two_nodes.sh: no node $host" >&2; exit 255 ;;
    esac
    echo "two_nodes.sh: login to $host (network namespace $ns, host $name)" >&2
    exec ip netns exec "$ns" unshare --uts -- "$self" --as "$name" sh -c "$*" ;;
esac

if [ "$(id -u)" != 0 ] || ! command -v ip > /dev/null || ! command -v unshare > /dev/null; then
  echo "two_nodes.sh: needs root, ip (iproute2) and unshare (util-linux) to make two network namespaces" >&2
  exit 77
fi
export TWO_NODES_A=trainer-$$-a TWO_NODES_B=trainer-$$-b
work=$(mktemp -d)
cleanup() {
  ip netns del "$TWO_NODES_A" 2> /dev/null
  ip netns del "$TWO_NODES_B" 2> /dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
if ! ip netns add "$TWO_NODES_A" || ! ip netns add "$TWO_NODES_B" ||
   ! ip -n "$TWO_NODES_A" link add eth0 type veth peer name eth0 netns "$TWO_NODES_B"; then
  echo "two_nodes.sh: cannot make network namespaces here (a container without CAP_SYS_ADMIN/CAP_NET_ADMIN?)" >&2
  exit 77
fi
ip -n "$TWO_NODES_A" addr add 10.77.0.1/24 dev eth0 &&
  ip -n "$TWO_NODES_B" addr add 10.77.0.2/24 dev eth0 &&
  for ns in "$TWO_NODES_A" "$TWO_NODES_B"; do ip -n "$ns" link set lo up && ip -n "$ns" link set eth0 up || exit 1; done ||
  exit 1
for _ in $(seq 50); do
  ip -n "$TWO_NODES_A" -o link show eth0 | grep -q 'state UP' && ip -n "$TWO_NODES_B" -o link show eth0 | grep -q 'state UP' &&
    break
  sleep 0.1
done
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' > "$work/hosts"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ip netns exec "$TWO_NODES_A" unshare --uts -- "$self" --as node-a \
  mpirun --hostfile "$work/hosts" -np 2 --mca plm_rsh_agent "$self --login" \
  --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 "$@"
status=$?
echo "two_nodes.sh: node-b received $(ip -n "$TWO_NODES_B" -s -j link show eth0 |
  sed -n 's/.*"rx":{"bytes":\([0-9]*\).*/\1/p') bytes" >&2
exit $status
