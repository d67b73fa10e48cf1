#!/usr/bin/env python3
"""`shipmark plan` for 30 services with 200 tags each on a Docker Registry 2.8 started on loopback:
whole-process time and request count. Target: requests grow with services x k (how far the walk
goes), not with the number of tags. Prints numbers; asserts nothing.

    python3 bench/plan_bench.py [--services 30] [--tags 200] [--failing 3] [--runs 3] [--compare 50]

Each service gets `--tags` version tags (one image each) with provenance, unit and acceptance
records written exactly as `shipmark record/mark` write them (per-record tags plus the referrers
index), and a promotion record into stable on the images that passed; the newest `--failing`
images failed acceptance (never promoted), so the walk goes that far. Measured:

- plan, nothing deployed yet        (cold manifest cache, then warm)
- plan after `shipmark deployed`    (what runs is read from the tag deployed.<target>)
- the same two with `--compare` tags per service, to show what depends on the tag count

Time is wall-clock for the whole `shipmark` process against the registry (median of --runs);
requests are counted by a pass-through proxy in a separate run (tests/python/faultproxy.py).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
sys.path.insert(0, str(HERE.parent / "tests" / "python" / "deploy"))

import servers  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from fleet import push_fleet  # noqa: E402

SHIPMARK = shutil.which("shipmark") or str(Path(sys.executable).parent / "shipmark")
POLICY = "channels:\n  stable: {require: [unit, acceptance]}\n"


def populate(host, prefix, services, tags, failing):
    """The fleet of tests/python/deploy/fleet.py, each build that passed acceptance promoted into
    stable (this policy's channel is not `auto`); the services' names."""
    return push_fleet(host, prefix, services, tags, failing=failing, promoted=True)


def services_file(path, host, prefix, names):
    path.write_text("target: prod\nchannel: stable\npolicy: shipmark.yaml\nservices:\n" + "".join(
        f"  - name: {n}\n    repo: {host}/{prefix}/{n}\n" for n in names))


def run(argv, workdir, cache):
    env = {**os.environ, "SHIPMARK_CACHE_DIR": str(cache)}
    env.pop("BUILD_URL", None)
    start = time.perf_counter()
    proc = subprocess.run([SHIPMARK, *argv], cwd=workdir, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"shipmark {' '.join(argv)} failed: {proc.stderr.strip()}")
    return took, proc.stdout


def measure(workdir, services_yaml, runs, warm):
    """Median whole-process time of `shipmark plan`, cold (fresh cache each run) or warm."""
    times = []
    cache = Path(tempfile.mkdtemp(prefix="shipmark-cache-"))
    if warm:
        run(["plan", "--services", services_yaml, "--json"], workdir, cache)
    for _ in range(runs):
        if not warm:
            shutil.rmtree(cache, ignore_errors=True)
        took, _ = run(["plan", "--services", services_yaml, "--json"], workdir, cache)
        times.append(took)
    shutil.rmtree(cache, ignore_errors=True)
    return statistics.median(times)


def count(proxy, workdir, proxied_yaml, warm):
    cache = Path(tempfile.mkdtemp(prefix="shipmark-cache-"))
    if warm:
        run(["plan", "--services", proxied_yaml, "--json"], workdir, cache)
    proxy.reset_log()
    _, out = run(["plan", "--services", proxied_yaml, "--json"], workdir, cache)
    shutil.rmtree(cache, ignore_errors=True)
    entries = proxy.requests()
    kinds = Counter()
    for e in entries:
        path = e.path.split("?")[0]
        if path.endswith("/tags/list"):
            kinds["tag list"] += 1
        elif "/manifests/deployed." in path:
            kinds[f"{e.method} deployed tag"] += 1
        elif "/referrers/" in path:
            kinds["referrers API probe"] += 1
        elif "/manifests/" in path:
            kinds[f"{e.method} manifest"] += 1
        elif "/blobs/" in path:
            kinds[f"{e.method} blob"] += 1
        else:
            kinds[f"{e.method} other"] += 1
    tag_bytes = sum(e.response_bytes for e in entries if e.path.split("?")[0].endswith("/tags/list"))
    return len(entries), dict(sorted(kinds.items())), tag_bytes, json.loads(out)


def scenario(registry, services, tags, failing, runs):
    workdir = Path(tempfile.mkdtemp(prefix="plan-bench-"))
    prefix = f"bench{tags}"
    started = time.perf_counter()
    names = populate(registry.host, prefix, services, tags, failing)
    print(f"\n== {services} services x {tags} tags (newest {failing} failed acceptance): "
          f"pushed in {time.perf_counter() - started:.0f} s", flush=True)
    (workdir / "shipmark.yaml").write_text(POLICY)
    services_file(workdir / "services.yaml", registry.host, prefix, names)
    proxy = FaultProxy(registry.host).start()
    services_file(workdir / "proxied.yaml", proxy.host, prefix, names)
    results = {}
    try:
        for state in ("nothing deployed", "after deployed"):
            if state == "after deployed":
                run(["deployed", "--services", "services.yaml", "--by", "bench"], workdir,
                    Path(tempfile.mkdtemp(prefix="shipmark-cache-")))
            for warm in (False, True):
                label = f"plan, {state}, {'warm' if warm else 'cold'} cache"
                took = measure(workdir, "services.yaml", runs, warm)
                requests, kinds, tag_bytes, plan = count(proxy, workdir, "proxied.yaml", warm)
                picked = {s["tag"].split("-b")[0] for s in plan["services"]}
                changes = Counter(s["change"] for s in plan["services"])
                print(f"  {label:<42} {took:6.2f} s  {requests:5d} requests "
                      f"({requests / services:.1f}/service)  tag lists {tag_bytes / 1e6:.2f} MB")
                print(f"      {kinds}  picked {sorted(picked)} changes {dict(changes)}")
                results[label] = {"seconds": round(took, 3), "requests": requests, "per_service": requests / services,
                                  "kinds": kinds, "tag_list_bytes": tag_bytes}
    finally:
        proxy.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main():
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=30)
    ap.add_argument("--tags", type=int, default=200)
    ap.add_argument("--failing", type=int, default=3, help="newest images per service that failed acceptance")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--compare", type=int, default=50, help="also run with this many tags (0: skip)")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="plan-bench-registry-"))
    registry = servers.start_registry2(workdir)
    try:
        print(f"Docker Registry 2.8 at {registry.host}; shipmark = {SHIPMARK}")
        results = {args.tags: scenario(registry, args.services, args.tags, args.failing, args.runs)}
        if args.compare:
            results[args.compare] = scenario(registry, args.services, args.compare, args.failing, args.runs)
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        registry.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
