#!/usr/bin/env python3
"""Issue 2 benchmarks on a Docker Registry 2.8 started on loopback, each against a peer
measured in the same run. Prints medians and ratios; asserts nothing.

    python3 bench/bench_registry.py [--tags 1000] [--runs 5] [--copy-mb 200]

- pick:     `shipmark pick` (the channel's member 4th newest)   vs one `skopeo inspect` of a tag
- list:     `shipmark list` cold (empty cache) and warm    vs a `skopeo inspect` loop over 50 tags, scaled to all
- promote:  `shipmark promote` whole process               vs `skopeo copy` of the same tag to a new tag
- copy:     `shipmark promote --copy-to` of a big image    vs `skopeo copy` to another repository
- start-up: `shipmark --help`                              vs `python3 -c pass`
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))

import servers  # noqa: E402

from shipmark.core.ref import parse  # noqa: E402
from shipmark.core.policy import Policy  # noqa: E402
from shipmark.ops import annotate, channel  # noqa: E402
from shipmark.ops.demo import push_sample_image  # noqa: E402
from shipmark.stores import open_store  # noqa: E402
from shipmark.stores.base import Limits  # noqa: E402

SHIPMARK = shutil.which("shipmark") or str(Path(sys.executable).parent / "shipmark")
POLICY = "channels:\n  testing: {require: [unit]}\n  stable: {require: [unit]}\n  prod: {}\n"


def run_checked(argv, env):
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed: {proc.stderr.strip()}")


def timed(argv, env, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run_checked(argv, env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Rows(list):
    """Prints each measurement as it is taken, so a later failure loses nothing."""

    def append(self, row):
        if not self:
            print(f"\n{'measure':<30} {'shipmark s':>10} {'peer s':>8} {'ratio':>6}  peer; target for shipmark")
        name, ours, peer_name, peer, target = row
        print(f"{name:<30} {ours:10.3f} {peer:8.3f} {ours / peer:6.2f}  {peer_name}; target {target}", flush=True)
        super().append(row)


def populate(store, repo, count):
    """`count` version tags, each its own image with a provenance and a unit record; the
    fourth newest is promoted to testing and the three newer failed unit, so pick walks to it."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def one(n):
        ref = repo.with_tag(f"1.{n // 100}.{n % 100}-b{n}.20260101.abcdef0")
        when = start + timedelta(minutes=n)
        push_sample_image(store, ref, f"svc{n}", when)
        annotate.provenance(store=store, ref=ref, now=when, by="bench", git_branch="master")
        result = "failed" if n >= count - 3 else "passed"
        annotate.mark(store=store, ref=ref, now=when, by="bench", suite="unit", result=result)
        if n == count - 4:
            channel.promote(store=store, ref=ref, channel="testing", policy=Policy.open(), now=when, by="bench")
        return ref

    with ThreadPoolExecutor(16) as pool:
        refs = list(pool.map(one, range(count)))
    return refs


def big_image(store, repo, megabytes):
    """An image with two random layers of megabytes/2 each (incompressible, like real binaries)."""
    import json
    from shipmark.core import mediatype as mt
    from shipmark.core.descriptor import Manifest, canonical_json, sha256
    layers = []
    for _ in range(2):
        data = os.urandom(megabytes * 1024 * 1024 // 2)
        store.put_blob(repo, data)
        layers.append({"mediaType": mt.OCI_LAYER_GZIP, "digest": sha256(data), "size": len(data)})
    config = canonical_json({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}})
    store.put_blob(repo, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                           "config": {"mediaType": mt.OCI_CONFIG, "digest": sha256(config), "size": len(config)},
                           "layers": layers}).encode()
    ref = repo.with_tag("2.0.0-b1.20260101.abcdef0")
    store.put_manifest(ref, Manifest(mt.OCI_MANIFEST, manifest))
    return ref


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--copy-mb", type=int, default=200)
    args = ap.parse_args()

    # An installed wheel has its bytecode compiled at install time; an editable checkout under
    # PYTHONDONTWRITEBYTECODE would compile every module on every run instead.
    import compileall
    compileall.compile_dir(str(HERE.parent / "python" / "shipmark"), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="shipmark-bench-"))
    server = servers.start_registry2(work / "registry")
    skopeo = servers.find_tool("skopeo")
    cache = work / "cache"
    env = dict(os.environ, SHIPMARK_CACHE_DIR=str(cache), SHIPMARK_POLICY=str(work / "policy.yaml"))
    (work / "policy.yaml").write_text(POLICY)
    os.environ["SHIPMARK_CACHE_DIR"] = str(work / "setup-cache")
    rows = Rows()
    try:
        repo = parse(f"{server.host}/bench/app", default_tag=None)
        store = open_store(repo, {"limits": Limits(deadline=3600)})
        t0 = time.perf_counter()
        refs = populate(store, repo, args.tags)
        print(f"setup: {args.tags} images with 2 records each in {time.perf_counter() - t0:.1f} s", flush=True)
        newest = f"docker://{refs[-1]}"

        inspect_one = timed([skopeo, "inspect", "--tls-verify=false", newest], env, args.runs)
        pick = timed([SHIPMARK, "pick", repo.name, "--channel", "testing"], env, args.runs)
        rows.append(("pick (4th newest member)", pick, "skopeo inspect, one tag", inspect_one, 0.3))

        sample = refs[-50:]
        start = time.perf_counter()
        for ref in sample:
            subprocess.run([skopeo, "inspect", "--tls-verify=false", f"docker://{ref}"], capture_output=True)
        loop = (time.perf_counter() - start) * len(refs) / len(sample)
        colds = []
        for _ in range(max(1, args.runs // 2)):
            shutil.rmtree(cache, ignore_errors=True)
            colds.append(timed([SHIPMARK, "list", repo.name], env, 1))
        cold = statistics.median(colds)
        warm = timed([SHIPMARK, "list", repo.name], env, args.runs)
        rows.append(("list cold", cold, f"skopeo inspect loop ({len(refs)} tags, est.)", loop, 2.0))
        rows.append(("list warm", warm, f"skopeo inspect loop ({len(refs)} tags, est.)", loop, 1.0))

        promote_times, copy_times = [], []
        for i in range(args.runs):
            ref = refs[i]
            start = time.perf_counter()
            run_checked([SHIPMARK, "promote", str(ref), "--to", "stable"], env)
            promote_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            run_checked([skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                         f"docker://{ref}", f"docker://{repo.name}:peer-{i}"], env)
            copy_times.append(time.perf_counter() - start)
        rows.append(("promote (whole process)", statistics.median(promote_times),
                     "skopeo copy to a new tag", statistics.median(copy_times), 2.5))

        big_repo = parse(f"{server.host}/bench/big", default_tag=None)
        big = big_image(store, big_repo, args.copy_mb)
        ours, peer = [], []
        for i in range(max(1, args.runs // 2)):
            start = time.perf_counter()
            run_checked([SHIPMARK, "promote", str(big), "--to", "prod", "--copy-to",
                         f"{server.host}/bench/prod{i}"], env)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            run_checked([skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                         f"docker://{big}", f"docker://{server.host}/bench/peer{i}:x"], env)
            peer.append(time.perf_counter() - start)
        rows.append((f"promote --copy-to ({args.copy_mb} MB)", statistics.median(ours),
                     "skopeo copy to another repo", statistics.median(peer), 1.0))

        help_ = timed([SHIPMARK, "--help"], env, args.runs * 2)
        bare = timed([sys.executable, "-c", "pass"], env, args.runs * 2)
        rows.append(("shipmark --help start-up", help_, "python3 -c pass", bare, 0.15))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)



if __name__ == "__main__":
    main()
