"""Shared plumbing for the benchmark scripts: the peer venv, the build, machine facts.

Every script under scripts/bench/ works from a clean clone: it calls ensure_peers() first, which
creates .venv-bench (next to the sources, ignored by git), installs the pinned peers of
requirements-bench.txt from PyPI, re-executes the script inside that venv and prints the peers'
versions; then build() builds the trainer targets it measures."""
import importlib.metadata
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_VENV = os.path.join(ROOT, ".venv-bench")
REQUIREMENTS = os.path.join(ROOT, "scripts", "bench", "requirements-bench.txt")


def _pinned():
    """{distribution name: 'name==version'} from requirements-bench.txt."""
    pins = {}
    with open(REQUIREMENTS) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                pins[line.split("==")[0].lower()] = line
    return pins


def ensure_peers(packages):
    """Re-executes this script inside .venv-bench with the named peers installed at their pinned
    versions, then prints those versions. Peers are benchmark-only: never test dependencies."""
    pins = _pinned()
    unknown = [p for p in packages if p.lower() not in pins]
    if unknown:
        sys.exit(f"bench_env: {unknown} not pinned in {REQUIREMENTS}")
    python = os.path.join(BENCH_VENV, "bin", "python3")
    inside = os.path.realpath(sys.prefix) == os.path.realpath(BENCH_VENV)
    if not inside and not os.path.exists(python):
        print(f"bench_env: creating {BENCH_VENV}", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", BENCH_VENV])
    missing = [pins[p.lower()] for p in packages if not _installed(python, pins[p.lower()])]
    if missing:
        print(f"bench_env: installing {' '.join(missing)} into {BENCH_VENV}", flush=True)
        subprocess.check_call([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *missing])
    if not inside:
        os.execv(python, [python, os.path.abspath(sys.argv[0]), *sys.argv[1:]])
    versions = ", ".join(f"{p} {importlib.metadata.version(p)}" for p in packages)
    print(f"peers: {versions} (Python {platform.python_version()}, {BENCH_VENV})", flush=True)


def _installed(python, pin):
    name, version = pin.split("==")
    probe = f"import importlib.metadata as m, sys; sys.exit(m.version({name!r}) != {version!r})"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def build(targets):
    """Builds the given targets in build/ (Release; the benchmark drivers switched on)."""
    build_dir = os.path.join(ROOT, "build")
    configure = ["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja", "-DTRAINER_BENCH=ON"]
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        configure += ["-DCMAKE_BUILD_TYPE=Release", "-DTRAINER_CUDA=OFF", "-DTRAINER_TESTS=OFF"]
    subprocess.check_call(configure, stdout=subprocess.DEVNULL)
    subprocess.check_call(["cmake", "--build", build_dir, "--target", *targets])
    return build_dir


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"
