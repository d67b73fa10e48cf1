#!/usr/bin/env python3
"""Issue 8 "Fast": record discovery against named peers measured in the same run, on Docker
Registry 2.8 (tag-schema fallback) and the referrers-API test registry (tests/python/refreg),
both on loopback, then once more through a 20 ms-latency proxy. Prints medians, ratios and
goals; asserts nothing.

    PATH=/usr/local/go/bin:$HOME/go/bin:$PATH python3 bench/discovery_bench.py \\
        [--tags 1000] [--runs 5] [--scale-tags 5000 | --scale-tags 0] [--latency-ms 20] [--json FILE]

Each repository gets --tags version tags, one image each, with a provenance and a unit record
written through shipmark's ops API (every third image also an e2e record); the three newest
failed unit, so `pick --channel testing` walks to the fourth. Every shipmark invocation is its
own process with SHIPMARK_CACHE_DIR set to a directory owned by this script ("cold" = a fresh
empty one; "warm" = after one untimed run of the same command). Timed pairs alternate shipmark
and the peer, --runs times each; the table shows medians.

- pick (warm)       `shipmark pick REPO --channel testing`  vs `crane ls REPO` + `crane manifest` of the hit
- status            `shipmark status IMAGE`                  vs `oras discover IMAGE`, `regctl artifact list IMAGE`
- promote           `shipmark promote IMAGE --to testing`    vs `crane tag IMAGE TAG`; each run a new image
- promote requests  one promote through a counting pass-through proxy (tests/python/faultproxy.py),
                    warm cache, beside the requests of one `crane tag`
- list (cold)       `shipmark list REPO`, empty cache        vs `oras discover` per tag with `xargs -P8`,
                    timed on a sample of tags (--sample) and scaled to all tags (an estimate)
- list requests     warm `shipmark list`, nothing changed, then after another writer added one record
- --help            `shipmark --help`                        vs `crane version`
- scaling           warm `shipmark list` of a --scale-tags repository vs a --tags one, both filled the
                    quick way bench/plan_bench.py does (records as `record`/`mark` leave them, written
                    directly: the ops API re-reads the growing tag list for every record)
- latency           pick, status, promote and cold list again, shipmark and peers both talking to the
                    registry through a TCP proxy that delays every chunk --latency-ms each way (and a
                    new connection one round trip)

Needs: docker-registry (apt), go (to build tests/python/refreg), crane v0.22.1, oras v1.3.6 and
regctl v0.11.7 (`go install github.com/regclient/regclient/cmd/regctl@v0.11.7`).
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))

import pytest  # noqa: E402  (servers reports a missing tool with pytest.fail)
import servers  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

import plan_bench  # noqa: E402
from bench_registry import populate  # noqa: E402

import shipmark  # noqa: E402
from shipmark.core.ref import parse  # noqa: E402
from shipmark.ops import annotate  # noqa: E402
from shipmark.stores import open_store  # noqa: E402
from shipmark.stores.base import Limits  # noqa: E402

POLICY = "channels:\n  testing: {require: [unit]}\n  stable: {require: [unit, e2e]}\n"
# The real console script next to this interpreter, not a pyenv shim (a shim is a shell script
# that would add its own start-up to every shipmark run).
_NEXT_TO_PYTHON = Path(sys.executable).parent / "shipmark"
SHIPMARK = str(_NEXT_TO_PYTHON) if _NEXT_TO_PYTHON.exists() else shutil.which("shipmark")


# -- running and timing ------------------------------------------------------------------------

class Bench:
    """Paths of the tools, the environment for each, and the result rows."""

    def __init__(self, work: Path, runs: int):
        self.work = work
        self.runs = runs
        self.rows = []
        self.crane = servers.find_tool("crane")
        self.oras = servers.find_tool("oras")
        self.regctl = servers.find_tool("regctl")
        (work / "policy.yaml").write_text(POLICY)
        self.base_env = {k: v for k, v in os.environ.items()
                         if k not in ("JENKINS_URL", "BUILD_URL", "SHIPMARK_CACHE_DIR")}
        self.base_env.update(SHIPMARK_POLICY=str(work / "policy.yaml"), SHIPMARK_BY="bench",
                             REGCTL_CONFIG=str(work / "regctl.json"),
                             DOCKER_CONFIG=str(work / "docker"))   # peers read no real credentials
        self.cache_count = 0

    def cache(self) -> Path:
        """A fresh, empty shipmark cache directory."""
        self.cache_count += 1
        path = self.work / f"cache{self.cache_count}"
        path.mkdir()
        return path

    def shipmark_env(self, cache: Path) -> dict:
        return dict(self.base_env, SHIPMARK_CACHE_DIR=str(cache))

    def run(self, argv, env=None, shell=False) -> float:
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env or self.base_env, capture_output=True, text=True,
                              shell=shell)
        took = time.perf_counter() - start
        if proc.returncode != 0:
            shown = argv if shell else " ".join(map(str, argv))
            raise SystemExit(f"{shown} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
        return took

    def shipmark(self, cache: Path, *args) -> float:
        return self.run([SHIPMARK, *args], self.shipmark_env(cache))

    def alternate(self, ours, peers, runs=None, warm_up=True):
        """Median seconds of `ours` and of each peer, run in turn `runs` times, after one untimed
        run of each (so no one pays for loading its binary from disk) unless warm_up is False
        (commands that change the registry)."""
        if warm_up:
            for fn in (ours, *peers):
                fn()
        times = [[] for _ in range(1 + len(peers))]
        for _ in range(runs or self.runs):
            for i, fn in enumerate([ours, *peers]):
                times[i].append(fn())
        return [statistics.median(t) for t in times]

    def add(self, registry, measure, ours, peer_name, peer, goal, unit="s", note=""):
        """goal: ("ratio", x) = ours/peer at most x; ("count", x) = ours at most x; None = shown only."""
        ratio = ours / peer if peer else None
        if goal is None:
            met = None
        elif goal[0] == "ratio":
            met = ratio is not None and ratio <= goal[1]
        else:
            met = ours <= goal[1]
        row = {"registry": registry, "measure": measure, "unit": unit, "shipmark": ours,
               "peer_name": peer_name, "peer": peer, "ratio": ratio,
               "goal": None if goal is None else {"kind": goal[0], "at_most": goal[1]},
               "met": met, "note": note}
        self.rows.append(row)
        print("  " + format_row(row), flush=True)


def goal_text(row) -> str:
    goal = row["goal"]
    if goal is None:
        return "-"
    return f"<= {goal['at_most']:g}x" if goal["kind"] == "ratio" else f"<= {goal['at_most']:g} req"


def value_text(value, unit) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if unit == "s" else f"{value:.0f} req"


def format_row(row) -> str:
    ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
    met = {None: "", True: "met", False: "MISSED"}[row["met"]]
    return (f"{row['measure']:<34} {value_text(row['shipmark'], row['unit']):>9} "
            f"{value_text(row['peer'], row['unit']):>9} {ratio:>6} {goal_text(row):>10} "
            f"{met:<6} {row['peer_name']}{('  (' + row['note'] + ')') if row['note'] else ''}")


def print_table(rows) -> None:
    print(f"\n{'measure':<34} {'shipmark':>9} {'peer':>9} {'ratio':>6} {'goal':>10} {'':<6} peer")
    current = None
    for row in rows:
        if row["registry"] != current:
            current = row["registry"]
            print(f"-- {current}")
        print(format_row(row))
    checked = [r for r in rows if r["met"] is not None]
    print(f"\n{sum(r['met'] for r in checked)} of {len(checked)} goals met "
          f"(times in seconds, medians; ratio = shipmark / peer)")


# -- a TCP proxy that adds latency -------------------------------------------------------------

class LatencyProxy:
    """Forwards TCP connections on 127.0.0.1 to `upstream`, delivering every chunk `delay`
    seconds after it arrived, in each direction, without limiting how many are in flight (one
    way latency, not a bandwidth cap). A new connection's first bytes wait one more round trip,
    as a TCP handshake would."""

    def __init__(self, upstream: str, delay: float):
        self.upstream_host, port = upstream.rsplit(":", 1)
        self.upstream_port = int(port)
        self.delay = delay
        self.loop = asyncio.new_event_loop()
        self.port = None
        self._server = None
        self._tasks = set()       # strong references: the loop keeps only weak ones
        self._writers = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="latency-proxy")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "LatencyProxy":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        self._thread.join(timeout=10)
        self.loop.close()

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _shutdown(self):
        """Close the listener and every connection, let the pipes see it, then stop."""
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        deadline = self.loop.time() + 3
        while self._tasks and self.loop.time() < deadline:   # closing starts last deliveries
            await asyncio.wait(list(self._tasks), timeout=deadline - self.loop.time())
        self.loop.stop()

    async def _connection(self, client_reader, client_writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(client_writer)
        handshake_done = self.loop.time() + 2 * self.delay
        up_writer = None
        try:
            up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
            self._writers.add(up_writer)
            await asyncio.gather(self._pipe(client_reader, up_writer, handshake_done),
                                 self._pipe(up_reader, client_writer, 0.0))
        except (ConnectionError, OSError):
            pass   # either side went away: close both
        finally:
            for writer in (client_writer, up_writer):
                if writer is not None:
                    writer.close()
                    self._writers.discard(writer)
            self._tasks.discard(task)

    async def _pipe(self, reader, writer, not_before: float):
        """Copy reader to writer, each chunk `delay` after it was read (not before `not_before`);
        end-of-file is passed on the same way."""
        chunks = []
        while True:
            data = await reader.read(65536)
            chunks.append((max(self.loop.time(), not_before) + self.delay, data))
            if len(chunks) == 1:   # no deliverer running: it stops when it empties the list
                task = self.loop.create_task(self._deliver(chunks, writer))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if not data:
                return

    async def _deliver(self, chunks, writer):
        """Write queued chunks when due. A chunk leaves the list only once written, so the list
        is non-empty exactly while a deliverer runs."""
        try:
            while chunks:
                due, data = chunks[0]
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()
                chunks.pop(0)
        except (ConnectionError, OSError, RuntimeError):
            writer.close()


# -- the registries' contents ------------------------------------------------------------------

def fill(host: str, name: str, count: int, setup_cache: Path):
    """`count` images with records (see the module doc); returns their refs, oldest first."""
    repo = parse(f"{host}/{name}", default_tag=None)
    store = open_store(repo, {"cache_dir": str(setup_cache), "limits": Limits(deadline=3600)})
    started = time.perf_counter()
    refs = populate(store, repo, count)
    when = datetime(2026, 1, 2, tzinfo=timezone.utc)

    def e2e(n):
        annotate.mark(store=store, ref=refs[n], now=when + timedelta(minutes=n), by="bench",
                      suite="e2e", result="passed")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(e2e, range(0, count, 3)))
    print(f"  {host}/{name}: {count} images, {2 * count + len(range(0, count, 3))} records "
          f"written in {time.perf_counter() - started:.0f} s", flush=True)
    return refs


def add_record(host: str, ref, setup_cache: Path) -> None:
    """Another writer (not the benchmarked cache) adds one record to one image."""
    store = open_store(parse(host + "/x", default_tag=None), {"cache_dir": str(setup_cache)})
    annotate.mark(store=store, ref=ref, now=datetime(2026, 2, 1, tzinfo=timezone.utc), by="other",
                  suite="smoke", result="passed")


def on_host(ref, host: str) -> str:
    """The same reference with another registry host:port (a proxy in front of the registry)."""
    return host + str(ref)[len(ref.registry):]


# -- the measures ------------------------------------------------------------------------------

def oras_sweep(b: Bench, refs, host: str, sample: int) -> float:
    """Seconds for `oras discover` of every tag with `xargs -P8`, estimated from the `sample`
    newest tags."""
    chosen = refs[-sample:]
    listing = b.work / f"sweep-{host.replace(':', '_')}.txt"
    listing.write_text("".join(on_host(r, host) + "\n" for r in chosen))
    took = b.run(f"xargs -P8 -n1 {b.oras} discover --plain-http < {listing} > /dev/null",
                 shell=True)
    return took * len(refs) / len(chosen)


def timing_measures(b: Bench, label: str, host: str, repo_path: str, refs, promote_from: int,
                    sample: int) -> None:
    """pick, status, promote and cold list against their peers, all talking to `host`."""
    repo = f"{host}/{repo_path}"
    hit = on_host(refs[-4], host)          # what pick finds: the three newer ones failed unit
    cache = b.cache()
    b.shipmark(cache, "list", repo)        # warm the cache

    def peer_pick():
        return b.run([b.crane, "ls", repo]) + b.run([b.crane, "manifest", hit])

    pick, crane = b.alternate(lambda: b.shipmark(cache, "pick", repo, "--channel", "testing"),
                              [peer_pick])
    b.add(label, "pick (warm)", pick, "crane ls + crane manifest", crane, ("ratio", 3))

    regctl_host = f"reg={host},tls=disabled"
    status, oras, regctl = b.alternate(
        lambda: b.shipmark(cache, "status", hit),
        [lambda: b.run([b.oras, "discover", "--plain-http", hit]),
         lambda: b.run([b.regctl, "--host", regctl_host, "artifact", "list", hit])])
    b.add(label, "status", status, "oras discover", oras, ("ratio", 3))
    b.add(label, "status", status, "regctl artifact list", regctl, ("ratio", 3))

    turn = iter(range(promote_from, promote_from + b.runs))
    peer_turn = iter(range(promote_from, promote_from + b.runs))
    promote, tag = b.alternate(
        lambda: b.shipmark(cache, "promote", on_host(refs[next(turn)], host), "--to", "testing"),
        [lambda: b.run([b.crane, "tag", on_host(refs[next(peer_turn)], host),
                        f"peer-{host.split(':')[1]}-{promote_from}"])], warm_up=False)
    b.add(label, "promote", promote, "crane tag", tag, ("ratio", 4))

    def cold_list():
        return b.shipmark(b.cache(), "list", repo)

    cold, sweep = b.alternate(cold_list, [lambda: oras_sweep(b, refs, host, sample)], warm_up=False)
    b.add(label, "list (cold)", cold, f"oras discover x{len(refs)}, xargs -P8", sweep,
          ("ratio", 0.2), note=f"peer estimated from {min(sample, len(refs))} tags")


def request_measures(b: Bench, label: str, upstream: str, repo_path: str, refs, promote_at: int,
                     setup_cache: Path, referrers_api: bool) -> None:
    """Requests of a warm list (unchanged, then one image changed) and of one promote, counted by
    a pass-through proxy."""
    proxy = FaultProxy(upstream).start()
    try:
        repo = f"{proxy.host}/{repo_path}"
        cache = b.cache()
        b.shipmark(cache, "list", repo)
        b.shipmark(cache, "list", repo)
        proxy.reset_log()
        b.shipmark(cache, "list", repo)
        goal = ("count", 5) if referrers_api else None
        b.add(label, "list (warm) requests", len(proxy.requests()), "-", None, goal, unit="req",
              note="nothing changed")
        add_record(upstream, refs[len(refs) // 2], setup_cache)
        proxy.reset_log()
        b.shipmark(cache, "list", repo)
        goal = ("count", 6) if referrers_api else None
        b.add(label, "list (warm) requests, 1 changed", len(proxy.requests()), "-", None, goal,
              unit="req", note="after another writer added a record")

        proxy.reset_log()
        b.shipmark(cache, "promote", on_host(refs[promote_at], proxy.host), "--to", "testing")
        promote = len(proxy.requests())
        proxy.reset_log()
        b.run([b.crane, "tag", on_host(refs[promote_at + 1], proxy.host), "peer-counted"])
        tag = len(proxy.requests())
        b.add(label, "promote requests (warm cache)", promote, "crane tag", tag, ("count", 8),
              unit="req")
        proxy.reset_log()
        b.shipmark(b.cache(), "promote", on_host(refs[promote_at + 2], proxy.host), "--to", "testing")
        b.add(label, "promote requests (cold cache)", len(proxy.requests()), "crane tag", tag,
              ("count", 8), unit="req")
    finally:
        proxy.stop()


def scaling_measure(b: Bench, label: str, host: str, small_n: int, big_n: int) -> None:
    repos = []
    for n in (small_n, big_n):
        started = time.perf_counter()
        repos.append(f"scale{n}/" + plan_bench.populate(host, f"scale{n}", 1, n, 3)[0])
        print(f"  {host}/{repos[-1]}: {n} images, 3 records each, written in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    small, big = repos
    small_cache, big_cache = b.cache(), b.cache()
    big_t, small_t = b.alternate(lambda: b.shipmark(big_cache, "list", f"{host}/{big}"),
                                 [lambda: b.shipmark(small_cache, "list", f"{host}/{small}")])
    b.add(label, f"list (warm) {big_n} vs {small_n} tags", big_t, f"shipmark list, {small_n} tags",
          small_t, ("ratio", 1.1 * big_n / small_n))   # 5.5 x for 5 x the tags


def registry_round(b: Bench, label: str, server, args, referrers_api: bool) -> None:
    print(f"\n== {label} at {server.host}", flush=True)
    setup_cache = b.work / f"setup-cache-{server.port}"
    refs = fill(server.host, "bench/app", args.tags, setup_cache)
    # promote uses old images, a fresh run of them for each measure: [0, runs) direct,
    # [runs, 2 runs) through the latency proxy, then three for the request counts
    timing_measures(b, label, server.host, "bench/app", refs, 0, args.sample)
    request_measures(b, label, server.host, "bench/app", refs, 2 * b.runs, setup_cache, referrers_api)
    if args.scale_tags:
        scaling_measure(b, label, server.host, args.tags, args.scale_tags)
    if args.latency_ms:
        proxy = LatencyProxy(server.host, args.latency_ms / 1000).start()
        try:
            timing_measures(b, f"{label}, {args.latency_ms:g} ms latency", proxy.host, "bench/app",
                            refs, b.runs, args.sample)
        finally:
            proxy.stop()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tags", type=int, default=1000, help="version tags per repository (default 1000)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each command (default 5)")
    ap.add_argument("--sample", type=int, default=100,
                    help="tags the per-tag oras discover peer is timed on (default 100)")
    ap.add_argument("--scale-tags", type=int, default=5000,
                    help="tags of the scaling repository (default 5000; 0 skips the scaling measure)")
    ap.add_argument("--latency-ms", type=float, default=20,
                    help="one-way delay of the latency proxy (default 20; 0 skips that round)")
    ap.add_argument("--registry", choices=("both", "registry2", "referrers"), default="both")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args()
    if args.runs < 1 or args.tags < 2 * args.runs + 8:
        ap.error("--runs must be at least 1 and --tags at least 2 x runs + 8 (each promote takes a new image)")
    if SHIPMARK is None:
        raise SystemExit("the shipmark command is not installed (pip install -e python/)")

    # Bytecode once, so no run compiles modules (the shared environment sets PYTHONDONTWRITEBYTECODE).
    import compileall
    compileall.compile_dir(os.path.dirname(shipmark.__file__), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="shipmark-discovery-bench-"))
    os.environ["SHIPMARK_CACHE_DIR"] = str(work / "setup-cache")   # this process's own writes
    started = time.perf_counter()
    running = []
    try:
        b = Bench(work, args.runs)
        print(f"shipmark = {SHIPMARK}; {args.tags} tags, {args.runs} runs, work dir {work}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        cache = b.cache()
        help_, version = b.alternate(lambda: b.shipmark(cache, "--help"),
                                     [lambda: b.run([b.crane, "version"])], runs=2 * args.runs)
        b.add("start-up", "--help", help_, "crane version", version, ("ratio", 4))
        if args.registry in ("both", "registry2"):
            running.append(servers.start_registry2(work / "registry2"))
            registry_round(b, "Docker Registry 2.8", running[-1], args, referrers_api=False)
            running.pop().stop()
        if args.registry in ("both", "referrers"):
            running.append(servers.start_referrers_registry(work / "refreg"))
            registry_round(b, "referrers-API registry (refreg)", running[-1], args, referrers_api=True)
            running.pop().stop()
        print_table(b.rows)
        print(f"whole benchmark: {time.perf_counter() - started:.0f} s; "
              f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        if args.json:
            Path(args.json).write_text(json.dumps({"tags": args.tags, "runs": args.runs,
                                                   "scale_tags": args.scale_tags,
                                                   "latency_ms": args.latency_ms,
                                                   "rows": b.rows}, indent=2))
    except pytest.fail.Exception as exc:   # a missing tool or a server that did not start
        raise SystemExit(str(exc))
    finally:
        for server in running:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
