#!/usr/bin/env python3
"""Issue 12: what the HTTPS-first probe costs on a plain-HTTP registry on loopback. Prints
medians and ratios; asserts nothing.

    python3 bench/bench_scheme_probe.py [--tags 50] [--runs 21] [--before REV]

`shipmark pick` as a whole process against a Docker Registry 2.8 on 127.0.0.1, this tree
against the peer: the same command from REV (default: the merge base with main), which spoke
plain HTTP to loopback without asking. Runs alternate between the two (ABBA) so load on the
machine hits both alike. Connections and HTTP requests per process come from urllib3's debug log of
one extra run of each: the probe should add one connection (a refused TLS handshake) and no
HTTP request. Last, the probe alone in-process: `RegistryStore.scheme()` on a fresh store, for
this plain registry and for one serving HTTPS, against a plain `GET /v2/` on a fresh store.
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "python"))

import servers  # noqa: E402
from bench_registry import POLICY, populate  # noqa: E402

from shipmark.core.ref import parse  # noqa: E402
from shipmark.stores import open_store  # noqa: E402

# Runs main() with urllib3's connection and request log on stderr.
COUNTING = ("import logging, sys; logging.basicConfig(level=logging.WARNING); "
            "logging.getLogger('urllib3').setLevel(logging.DEBUG); "
            "from shipmark.__main__ import main; sys.exit(main(sys.argv[1:]))")


def export_python(rev: str, into: Path) -> Path:
    """The python/ tree of git revision rev, unpacked under into."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "python"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into)
    return into / "python"


def run(argv, env):
    """(wall seconds, CPU seconds of the child, its stderr). CPU time moves far less than
    wall time when other work shares the machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, proc.stderr


def counts(log: str):
    connections = len(re.findall(r"Starting new HTTPS? connection", log))
    https_connections = len(re.findall(r"Starting new HTTPS connection", log))
    requests = len(re.findall(r'"(GET|HEAD|PUT|POST|DELETE) [^"]*" \d{3}', log))
    return connections, https_connections, requests


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, default=50)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--before", default=None, help="git revision of the peer (default: merge base with main)")
    args = ap.parse_args()
    before = args.before or subprocess.run(["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
                                           check=True, capture_output=True, text=True).stdout.strip()

    work = Path(tempfile.mkdtemp(prefix="shipmark-bench-probe-"))
    trees = {"this tree": ROOT / "python", f"before ({before[:10]})": export_python(before, work / "before")}
    import compileall
    for tree in trees.values():
        compileall.compile_dir(str(tree / "shipmark"), quiet=1)
    server = servers.start_registry2(work / "registry")
    (work / "policy.yaml").write_text(POLICY)
    base_env = dict(os.environ, SHIPMARK_POLICY=str(work / "policy.yaml"))
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        base_env.pop(var, None)
    try:
        repo = parse(f"{server.host}/bench/app", default_tag=None)
        os.environ["SHIPMARK_CACHE_DIR"] = str(work / "setup-cache")
        populate(open_store(repo), repo, args.tags)
        pick = ["pick", repo.name, "--channel", "testing"]
        envs = {name: dict(base_env, PYTHONPATH=str(tree), SHIPMARK_CACHE_DIR=str(work / f"cache-{i}"))
                for i, (name, tree) in enumerate(trees.items())}
        times = {name: [] for name in trees}
        cpus = {name: [] for name in trees}
        for name, env in envs.items():   # warm the caches (manifests by digest, version tags)
            run([sys.executable, "-c", COUNTING, *pick], env)
        for i in range(args.runs):
            order = list(envs.items())
            for name, env in (order if i % 2 else reversed(order)):   # ABBA: no order bias
                wall, cpu, _ = run([sys.executable, "-c", COUNTING, *pick], env)
                times[name].append(wall)
                cpus[name].append(cpu)
        print(f"\n`shipmark pick` on Registry 2.8 (plain HTTP, 127.0.0.1), {args.tags} tags, "
              f"warm cache, median of {args.runs} processes each")
        print(f"{'tree':<24} {'wall s':>7} {'ratio':>6} {'CPU s':>6} {'ratio':>6} "
              f"{'connections':>12} {'of them TLS':>12} {'HTTP requests':>14}")
        peer = list(trees)[1]
        for name, env in envs.items():
            conns, tls, reqs = counts(run([sys.executable, "-c", COUNTING, *pick], env)[2])
            wall, cpu = statistics.median(times[name]), statistics.median(cpus[name])
            print(f"{name:<24} {wall:7.3f} {wall / statistics.median(times[peer]):6.2f} "
                  f"{cpu:6.3f} {cpu / statistics.median(cpus[peer]):6.2f} {conns:12d} {tls:12d} "
                  f"{reqs:14d}")
        ours, theirs = list(trees)
        print("difference of medians per process: wall "
              f"{1000 * (statistics.median(times[ours]) - statistics.median(times[theirs])):+.1f} ms, "
              f"CPU {1000 * (statistics.median(cpus[ours]) - statistics.median(cpus[theirs])):+.1f} ms")
        probe_alone(server, work, args.runs)
    finally:
        server.stop()


def probe_alone(plain, work, runs):
    """scheme() on fresh stores (this tree), plain and HTTPS registry, vs one GET /v2/."""
    from shipmark.stores.registry import RegistryStore
    tls_server = servers.start_registry2(work / "registry-tls", tls=servers.make_tls_files(work / "tls"))
    try:
        def median_ms(action):
            times = []
            for _ in range(runs):
                store = RegistryStore()
                start = time.perf_counter()
                action(store)
                times.append(time.perf_counter() - start)
                store.close()
            return 1000 * statistics.median(times)

        get = median_ms(lambda s: s._session.get(f"{plain.url}/v2/", timeout=10).close())
        on_plain = median_ms(lambda s: s.scheme(plain.host))
        on_tls = median_ms(lambda s: s.scheme(tls_server.host))
        print(f"\nprobe alone, in-process, median of {runs} fresh stores:")
        print(f"  plain registry: {on_plain:6.1f} ms  ({on_plain / get:.2f} x one plain GET /v2/ = {get:.1f} ms)")
        print(f"  HTTPS registry: {on_tls:6.1f} ms  ({on_tls / get:.2f} x; its connection is not reused)")
    finally:
        tls_server.stop()


if __name__ == "__main__":
    main()
