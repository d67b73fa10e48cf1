#!/usr/bin/env python3
"""Issue 9 benchmark: what signing and verifying records add to `promote` and to `list` over
1,000 images, on a Docker Registry 2.8 started on loopback. Prints medians and ratios; asserts
nothing. Goal: signed/unsigned under 1.10 for each.

    python3 bench/trust_bench.py [--tags 1000] [--runs 5] [--main /work/main/python]

Two repositories of the same shape (each image: provenance + unit test record), one written
unsigned and read with a policy without signers, one written with an ECDSA P-256 key and read
with a policy whose `signers`/`trust` require that key. Runs alternate between the two so that
machine noise hits both alike. With --main, the shipmark of that checkout (before this change:
no payload read at all) is measured on the unsigned repository in the same run, for context.
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

from shipmark import keys  # noqa: E402
from shipmark.core.ref import parse  # noqa: E402
from shipmark.ops import annotate  # noqa: E402
from shipmark.ops.demo import push_sample_image  # noqa: E402
from shipmark.stores import open_store  # noqa: E402
from shipmark.stores.base import Limits  # noqa: E402

SHIPMARK = [sys.executable, "-m", "shipmark"]
CHANNELS = "channels:\n  testing: {require: [unit]}\n  stable: {require: [unit]}\n"
SIGNED_POLICY = "signers: {ci: ci.pub}\ntrust: {provenance: [ci], test: [ci], promotion: [ci]}\n" + CHANNELS


def populate(store, repo, count, signer):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def one(n):
        ref = repo.with_tag(f"1.{n // 100}.{n % 100}-b{n}.20260101.abcdef0")
        when = start + timedelta(minutes=n)
        push_sample_image(store, ref, f"svc{n}", when)
        annotate.provenance(store=store, ref=ref, now=when, by="bench", git_branch="master", signer=signer)
        annotate.mark(store=store, ref=ref, now=when, by="bench", suite="unit", result="passed", signer=signer)
        return ref

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def run(argv, env):
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))} failed: {proc.stderr.strip()}")
    return took


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--main", metavar="PYTHONPATH", help="also time the shipmark at this path (unsigned repo)")
    args = ap.parse_args()

    import compileall
    compileall.compile_dir(str(HERE.parent / "python" / "shipmark"), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="shipmark-trust-bench-"))
    server = servers.start_registry2(work / "registry")
    key = keys.generate("ecdsa")
    (work / "ci.key").write_bytes(key.pem())
    (work / "ci.pub").write_bytes(key.public.pem())
    (work / "unsigned.yaml").write_text(CHANNELS)
    (work / "signed.yaml").write_text(SIGNED_POLICY)
    os.environ["SHIPMARK_CACHE_DIR"] = str(work / "setup-cache")
    ours = str(HERE.parent / "python")
    base_env = dict(os.environ, PYTHONPATH=ours)
    base_env.pop("SHIPMARK_POLICY", None)
    try:
        repos = {}
        for name, signer in (("unsigned", None), ("signed", key)):
            repo = parse(f"{server.host}/bench/{name}", default_tag=None)
            t0 = time.perf_counter()
            refs = populate(open_store(repo, {"limits": Limits(deadline=3600)}), repo, args.tags, signer)
            print(f"setup: {name}: {args.tags} images, 2 records each, in {time.perf_counter() - t0:.1f} s",
                  flush=True)
            repos[name] = (repo, refs)

        def env_for(name, cache, pythonpath=ours):
            env = dict(base_env, PYTHONPATH=pythonpath, SHIPMARK_CACHE_DIR=str(work / cache),
                       SHIPMARK_POLICY=str(work / f"{name}.yaml"))
            if name == "signed":
                env["SHIPMARK_SIGNING_KEY"] = str(work / "ci.key")
            return env

        variants = [("unsigned", ours), ("signed", ours)]
        if args.main:
            variants.append(("main", args.main))
        times = {(v, m): [] for v, _ in variants for m in ("list cold", "list warm", "promote")}
        for i in range(args.runs):
            for variant, path in variants:
                data = "unsigned" if variant == "main" else variant
                repo, refs = repos[data]
                env = env_for(data, f"cache-{variant}", path)
                if variant == "main":
                    env.pop("SHIPMARK_SIGNING_KEY", None)
                shutil.rmtree(work / f"cache-{variant}", ignore_errors=True)
                times[(variant, "list cold")].append(run(SHIPMARK + ["list", repo.name], env))
                times[(variant, "list warm")].append(run(SHIPMARK + ["list", repo.name], env))
                channel = f"c{i}{variant}"
                (work / f"{data}.yaml").write_text((SIGNED_POLICY if data == "signed" else CHANNELS)
                                                   + f"  {channel}: {{require: [unit]}}\n")
                times[(variant, "promote")].append(run(SHIPMARK + ["promote", str(refs[i]), "--to", channel], env))
        print(f"\n{'measure':<12} {'unsigned s':>10} {'signed s':>9} {'ratio':>6}" +
              (f" {'main s':>8} {'signed/main':>11}" if args.main else "") + "   (medians of alternating runs)")
        for measure in ("list cold", "list warm", "promote"):
            u = statistics.median(times[("unsigned", measure)])
            s = statistics.median(times[("signed", measure)])
            line = f"{measure:<12} {u:10.3f} {s:9.3f} {s / u:6.2f}"
            if args.main:
                m = statistics.median(times[("main", measure)])
                line += f" {m:8.3f} {s / m:11.2f}"
            print(line, flush=True)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
