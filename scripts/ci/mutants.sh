#!/usr/bin/env bash
# Mutation check of the test suite (not part of CI: it rebuilds once per mutant, ~30 min).
#
#   scripts/ci/mutants.sh [NAME_FILTER]
#
# Plants the small mistakes listed in scripts/ci/mutants.py into src/train, src/ops,
# src/kernels/cpu and the classification task one at a time, rebuilds the affected tests, runs
# them, and prints which mutants the tests caught and which survived (exit status 1 if any
# survived). It works on a copy of this checkout (tracked and untracked files, as they are now)
# under ${TMPDIR:-/tmp}/trainer-mutants, so the tree and build/ are never touched and work can go
# on meanwhile; the copy's build is kept between runs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${TMPDIR:-/tmp}/trainer-mutants
"$root/scripts/install_deps.sh" > /dev/null
# The files git knows or would know (ignored build output and venvs left out); tar keeps their
# modification times, so the kept build recompiles only what changed since the last run.
rm -rf "$work/src"
mkdir -p "$work/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work/src"
cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRAINER_CUDA=OFF \
  -DTRAINER_TESTS=ON -DTRAINER_ORACLE_PYTHON="$root/.venv/bin/python3" > /dev/null
exec python3 "$root/scripts/ci/mutants.py" --root "$work/src" --build "$work/build" "$@"
