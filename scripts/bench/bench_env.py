"""Shared plumbing for the benchmark scripts: the peer venv, the build, machine facts, and the
measurement method every comparison uses (alternate, spread, table).

Every script under scripts/bench/ works from a clean clone: it calls ensure_peers() first, which
creates .venv-bench (next to the sources, ignored by git), installs the pinned peers of
requirements-bench.txt from PyPI, re-executes the script inside that venv and prints the peers'
versions; then build() builds the trainer targets it measures."""
import importlib.metadata
import os
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile

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


def peer_environment(**extra):
    """The environment of a peer process: this one's, with scripts/bench on PYTHONPATH so that the
    peer imports peer_models, plus `extra`."""
    bench = os.path.dirname(os.path.abspath(__file__))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=bench + (os.pathsep + path if path else ""), **extra)


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


# The method. One machine's speed drifts by 10-50 % within minutes (other tenants, clocks), so a
# side measured once, after the other, can win or lose by the drift alone. Every comparison
# therefore runs each side ROUNDS times in alternation (ours, peer, ours, peer), pools the
# measured steps (at least 10 per run, after warm-up) of all its runs, and compares medians,
# printing min and max beside each so the spread is seen with the ratio.
ROUNDS = 2
MIN_STEPS = 10


def alternate(sides, rounds=ROUNDS):
    """sides: [(name, run)], run() -> dict of lists of per-step values (or of single values).
    Runs them in alternation `rounds` times and returns {name: {key: all values of all runs}}."""
    pooled = {name: {} for name, _ in sides}
    for r in range(rounds):
        for name, run in sides:
            print(f"bench: round {r + 1}/{rounds}: {name}", file=sys.stderr, flush=True)
            for key, values in run().items():
                pooled[name].setdefault(key, []).extend(values if isinstance(values, list) else [values])
    return pooled


def spread(values):
    """(median, min, max) of a list of per-step values."""
    return statistics.median(values), min(values), max(values)


def print_table(peer_name, rows):
    """rows: [(metric, our values, peer values)]. Prints medians with [min-max] and the ratio of
    the medians (ours / peer)."""
    print(f"{'metric':34} {'trainer median [min-max]':>28} {peer_name + ' median [min-max]':>30} {'ratio':>7}")
    for name, ours, theirs in rows:
        (m, lo, hi), (pm, plo, phi) = spread(ours), spread(theirs)
        print(f"{name:34} {m:10.2f} [{lo:7.2f}-{hi:7.2f}] {pm:12.2f} [{plo:7.2f}-{phi:7.2f}] {m / pm:6.2f}x")
    print(f"ratio = median of trainer / median of {peer_name} over all measured steps of {ROUNDS} alternating "
          "runs per side (throughput: > 1 is faster; latency and memory: < 1 is better)")


def trainer_benchmark(build_dir, config, override, launcher=(), env=None):
    """Runs `trainer --mode benchmark` (after `launcher`, e.g. mpirun's command line, if given; with
    `env` as its environment if given) and returns its per-step LOG records and final METRIC record
    from the JSON log, plus stdout: (steps {key: [values]}, metrics {key: value}, stdout)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as log:
        out = subprocess.run([*launcher, os.path.join(build_dir, "trainer"), "--config", config, "--mode", "benchmark",
                              "--override", override, "--log-json", log.name],
                             cwd=ROOT, check=True, capture_output=True, text=True, env=env).stdout
        steps, metrics = {}, {}
        for line in open(log.name).read().splitlines():
            record = json.loads(line)
            if record["type"] == "LOG":
                for key, value in record["data"].items():
                    steps.setdefault(key, []).append(value)
            else:
                metrics = record["data"]
    return steps, metrics, out


def detection_trainer_run(build_dir, config, batch, warmup, steps, threads, precision, inference=True):
    """trainer --mode benchmark of a detection config on synthetic images: its per-step records
    plus train_rss_mib (the process's RSS when training ended; inference needs less), parameters
    and stdout (for lines a script parses itself)."""
    # use_bfloat16 (the TF2 zoo's TPU configs) agrees with the precision measured
    bf16 = "true" if precision == "bf16" else "false"
    override = (f"train_config {{ batch_size: {batch} use_bfloat16: {bf16} }} "
                f"benchmark {{ warmup_steps: {warmup} steps: {steps} "
                f"inference_warmup_steps: {warmup if inference else 0} inference_steps: {steps if inference else 1} "
                f"synthetic_data: true }} runtime {{ num_threads: {threads} }} "
                f"precision {{ compute_dtype: {precision.upper()} }}")
    steps_log, metrics, out = trainer_benchmark(build_dir, config, override)
    steps_log["train_rss_mib"] = float(re.search(r"after training ([\d.]+)", out).group(1))
    steps_log["parameters"] = metrics["parameters"]
    return steps_log, out


def forward_gflops(build_dir, config):
    """trainer --mode summary's forward GFLOP per image."""
    out = subprocess.run([os.path.join(build_dir, "trainer"), "--config", config, "--mode", "summary"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return float(re.search(r"forward FLOPs per image: ([\d.e+]+)", out).group(1)) / 1e9


def print_detection_comparison(peer_name, ours, peer_train, peer_infer, gflops, ours_model, peer_model):
    """The detection benches' table (training and inference imgs/s, latency, peak RSS) and the
    achieved GFLOP/s of both sides."""
    print_table(peer_name, [
        ("train imgs/sec", ours["train.imgs_per_sec"], peer_train["imgs_per_sec"]),
        ("infer imgs/sec (with NMS)", ours["infer.imgs_per_sec"], peer_infer["imgs_per_sec"]),
        ("infer latency ms", ours["infer.latency_ms"], peer_infer["latency_ms"]),
        ("train peak RSS MiB", ours["train_rss_mib"], peer_train["peak_rss_mib"]),
    ])
    train_ips = spread(ours["train.imgs_per_sec"])[0]
    infer_ips = spread(ours["infer.imgs_per_sec"])[0]
    peer_infer_ips = spread(peer_infer["imgs_per_sec"])[0]
    peer_gflops = peer_infer["gflops_per_image"][0]
    print(f"forward GFLOP per image: trainer's {ours_model} {gflops:.2f}, {peer_name}'s {peer_model} {peer_gflops:.2f}; "
          f"achieved (medians): trainer {3 * gflops * train_ips:.1f} GFLOP/s training (3x forward), "
          f"{gflops * infer_ips:.1f} GFLOP/s inference; {peer_name} {peer_gflops * peer_infer_ips:.1f} GFLOP/s "
          "inference")
