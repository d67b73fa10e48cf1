#!/usr/bin/env python3
"""The nightly plan and the release board at fleet scale (issue 15): `shipmark plan` and
`shipmark board` over N services x T tags on a Docker Registry 2.8 started on loopback, fitted
to t = a + b*N + c*N*T and extrapolated to 500 x 1,000. Prints numbers; asserts nothing.

    python3 bench/fleet_bench.py [--configs 16x30,32x30,64x30,16x200,32x200,8x1000] [--rounds 3]
                                 [--target 500x1000] [--direct 500x1000] [--json FILE]

The fleet is tests/python/deploy/fleet.py: every image pushed over the registry API with three
records (provenance, unit passed, acceptance) as `shipmark record/mark` write them, the newest
three failed acceptance, policy `stable: {require: [acceptance], auto: true}`: plan walks four
images per service, board shows 15. Images are pushed once per T, for the largest N; each
configuration uses the first N services. The 8 x 1000 configuration puts a point at the
target's T, so the fit's per-tag term is measured, not extrapolated five-fold (fitted from T
of 30 and 200 alone, the per-tag cost has come out negative); it adds 8,000 images, about four
minutes of pushing.

Measured per configuration, in rounds that interleave plan cold, plan warm, board cold and
board warm (cold: an empty cache directory; warm: the cache the cold run left): wall time of the
whole process (median of the rounds) and its peak RSS (the largest of the rounds); then
one more cold and warm run of each through a counting proxy on loopback: requests, tag-list
bytes and TCP connections opened (the proxy's own cost is not in the times).

`--direct N x T` also measures the target size itself, for what a shared repository can show:
N services that all name one repository of T builds, warm runs only (they share its cache, so
only the first service of a cold run would be cold): time, peak RSS, requests and tag-list bytes
of a warm plan and a warm board at full size, with the registry listing T builds' tags N times.
"""

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
sys.path.insert(0, str(HERE.parent / "tests" / "python" / "deploy"))

import servers  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from fleet import POLICY, push_fleet, write_services  # noqa: E402

RUNS = ("plan cold", "plan warm", "board cold", "board warm")
GOALS = {"plan cold": 6.0, "plan warm": 2.0, "board cold": 8.0, "board warm": 3.0}
RSS_GOAL_MB = 100
CONNECTIONS_GOAL = 16


# Runs shipmark and reports its wall time, peak RSS and CPU time. Linux counts the RSS a process
# had before exec in its peak, and a child forked from this (large) process would carry this
# one's: so a small interpreter forks each run instead.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "shipmark", *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{time.perf_counter() - start} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)} "
             f"{usage.ru_utime + usage.ru_stime}")
"""
REGISTRY_PID = 0   # set in main: the registry's CPU time is read around every run


def registry_cpu() -> float:
    fields = Path(f"/proc/{REGISTRY_PID}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def shipmark(argv, workdir: Path, cache: Path) -> dict:
    """Run shipmark once in its own process: wall seconds, peak RSS (MB), its CPU seconds, the
    registry's CPU seconds meanwhile, and its stdout."""
    env = {**os.environ, "SHIPMARK_CACHE_DIR": str(cache)}
    env.pop("BUILD_URL", None)
    result = workdir / "run.txt"
    before = registry_cpu()
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(result), *argv], cwd=workdir, env=env,
                          capture_output=True, text=True)
    took, rss_kb, code, cpu = result.read_text().split()
    if proc.returncode != 0 or code != "0":
        raise SystemExit(f"shipmark {' '.join(argv)} failed ({code}): {proc.stderr.strip()}")
    return {"seconds": float(took), "rss_mb": int(rss_kb) / 1024, "cpu": float(cpu),
            "registry_cpu": registry_cpu() - before, "stdout": proc.stdout}


def command(run: str, services_yaml: str) -> list:
    if run.startswith("plan"):
        return ["plan", "--services", services_yaml, "--json"]
    return ["board", "--services", services_yaml, "--out", "board.html"]


def direct(registry, proxy, work: Path, n: int, t: int) -> dict:
    """Warm plan and board over n services sharing one repository of t builds."""
    started = time.perf_counter()
    repo = push_fleet(registry.host, f"shared{t}", 1, t)[0]
    print(f"\ndirect check: pushed one repository of {t} builds in {time.perf_counter() - started:.0f} s")
    workdir = work / "direct"
    workdir.mkdir()
    (workdir / "shipmark.yaml").write_text(POLICY)
    for name, host in (("services.yaml", registry.host), ("proxied.yaml", proxy.host)):
        (workdir / name).write_text("target: prod\nchannel: stable\npolicy: shipmark.yaml\nservices:\n" + "".join(
            f"  - name: s{i:03d}\n    repo: {host}/shared{t}/{repo}\n" for i in range(n)))
    out = {}
    for kind in ("plan", "board"):
        cache = Path(tempfile.mkdtemp(prefix="shipmark-cache-"))
        shipmark(command(kind, "services.yaml"), workdir, cache)   # warms the one repository's cache
        run = shipmark(command(kind, "services.yaml"), workdir, cache)
        shipmark(command(kind, "proxied.yaml"), workdir, cache)    # the proxy's names are others
        proxy.reset_log()
        before = proxy.connections
        shipmark(command(kind, "proxied.yaml"), workdir, cache)
        entries = proxy.requests()
        tag_bytes = sum(e.response_bytes for e in entries if e.path.split("?")[0].endswith("/tags/list"))
        out[f"{kind} warm"] = {"seconds": run["seconds"], "rss_mb": run["rss_mb"], "cpu": run["cpu"],
                               "registry_cpu": run["registry_cpu"], "requests": len(entries),
                               "tag_list_bytes": tag_bytes, "connections": proxy.connections - before}
        print(f"  {kind} warm, {n} services x {t} tags: {run['seconds']:.2f} s (CPU: shipmark {run['cpu']:.2f} s, "
              f"registry {run['registry_cpu']:.2f} s), peak RSS {run['rss_mb']:.1f} MB, {len(entries)} requests, "
              f"{tag_bytes / 1e6:.1f} MB of tag lists, {proxy.connections - before} connections; "
              f"load average {load_average()}")
        shutil.rmtree(cache, ignore_errors=True)
    return out


def timed_rounds(workdir: Path, rounds: int) -> dict:
    """Of each run, the four interleaved in every round: the medians of wall time and CPU
    (shipmark's and the registry's), and the largest peak RSS."""
    taken = {run: [] for run in RUNS}
    for _ in range(rounds):
        for kind in ("plan", "board"):
            cache = Path(tempfile.mkdtemp(prefix="shipmark-cache-"))
            for run in (f"{kind} cold", f"{kind} warm"):
                taken[run].append(shipmark(command(run, "services.yaml"), workdir, cache))
            shutil.rmtree(cache, ignore_errors=True)
    return {run: {"seconds": statistics.median(r["seconds"] for r in runs),
                  "cpu": statistics.median(r["cpu"] for r in runs),
                  "registry_cpu": statistics.median(r["registry_cpu"] for r in runs),
                  "rss_mb": max(r["rss_mb"] for r in runs)} for run, runs in taken.items()}


def counted(workdir: Path, proxy: FaultProxy) -> dict:
    """Requests, tag-list bytes and connections of one cold and one warm run of each command."""
    out = {}
    for kind in ("plan", "board"):
        cache = Path(tempfile.mkdtemp(prefix="shipmark-cache-"))
        for run in (f"{kind} cold", f"{kind} warm"):
            proxy.reset_log()
            before = proxy.connections
            stdout = shipmark(command(run, "proxied.yaml"), workdir, cache)["stdout"]
            entries = proxy.requests()
            out[run] = {
                "requests": len(entries),
                "tag_list_bytes": sum(e.response_bytes for e in entries
                                      if e.path.split("?")[0].endswith("/tags/list")),
                "connections": proxy.connections - before,      # the TLS probe included
                "connections_used": proxy.connections_used(),   # those that carried requests
            }
            if kind == "plan":
                out[run]["picked"] = sorted({s["tag"] for s in json.loads(stdout)["services"]})
        shutil.rmtree(cache, ignore_errors=True)
    return out


# -- the fit --------------------------------------------------------------------------------------

class Fit:
    """Least squares y = sum(coef_i * term_i(N, T)) over rows of (N, T, y), by the normal
    equations (plain Python: numpy is not needed for three unknowns), with the standard error
    of a prediction, so an extrapolation says how much the measurements pin it down."""

    def __init__(self, rows, terms):
        self.terms = terms
        xs = [self._x(n, t) for n, t, _ in rows]
        ys = [y for _, _, y in rows]
        k = len(terms)
        # Gauss-Jordan on [X'X | X'y | I]: the coefficients and (X'X)^-1 at once.
        a = [[sum(x[i] * x[j] for x in xs) for j in range(k)] + [sum(x[i] * y for x, y in zip(xs, ys))]
             + [1.0 if j == i else 0.0 for j in range(k)] for i in range(k)]
        for col in range(k):
            pivot = max(range(col, k), key=lambda r, col=col: abs(a[r][col]))
            a[col], a[pivot] = a[pivot], a[col]
            if abs(a[col][col]) < 1e-12:
                raise SystemExit("the configurations do not determine the fit: vary N and N*T independently")
            a[col] = [v / a[col][col] for v in a[col]]
            for r in range(k):
                if r != col:
                    f = a[r][col]
                    a[r] = [v - f * p for v, p in zip(a[r], a[col])]
        self.coef = [a[i][k] for i in range(k)]
        self._inverse = [a[i][k + 1:] for i in range(k)]
        residuals = [self.predict(n, t) - y for n, t, y in rows]
        self.worst = max(abs(e) / abs(y) if y else 0.0 for e, (_, _, y) in zip(residuals, rows))
        dof = len(rows) - k
        self._variance = sum(e * e for e in residuals) / dof if dof > 0 else float("nan")

    def _x(self, n, t):
        return [float(term(n, t)) for term in self.terms]

    def predict(self, n, t) -> float:
        return sum(c * x for c, x in zip(self.coef, self._x(n, t)))

    def error(self, n, t) -> float:
        """Standard error of predict(n, t) (nan with no degree of freedom left)."""
        x = self._x(n, t)
        k = len(x)
        spread = sum(x[i] * self._inverse[i][j] * x[j] for i in range(k) for j in range(k))
        return (self._variance * spread) ** 0.5


LINEAR_NT = (lambda n, t: 1, lambda n, t: n, lambda n, t: n * t)
LINEAR_T = (lambda n, t: 1, lambda n, t: n, lambda n, t: t)


# -- main -----------------------------------------------------------------------------------------

def parse_configs(text: str):
    out = []
    for item in text.split(","):
        n, _, t = item.strip().partition("x")
        out.append((int(n), int(t)))
    return out


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def report(results, target):
    n_goal, t_goal = target
    print(f"\n{'N x T':>9} " + " ".join(f"{r:>11}" for r in RUNS)
          + f" {'req plan c/w':>14} {'req board c/w':>14} {'tags KB/svc':>11} {'conn':>5} {'RSS MB':>7}")
    for r in results:
        c = r["counts"]
        per_service = c["plan cold"]["tag_list_bytes"] / r["N"] / 1024
        conns = max(v["connections"] for v in c.values())
        rss = max(v["rss_mb"] for v in r["times"].values())
        print(f"{r['N']:>4} x {r['T']:<4}" + " ".join(f"{r['times'][run]['seconds']:>10.2f}s" for run in RUNS)
              + f" {c['plan cold']['requests']:>6}/{c['plan warm']['requests']:<7}"
              f" {c['board cold']['requests']:>6}/{c['board warm']['requests']:<7}"
              f" {per_service:>11.1f} {conns:>5} {rss:>7.1f}")
    rows = lambda value: [(r["N"], r["T"], value(r)) for r in results]   # noqa: E731
    print(f"\nfit t = a + b*N + c*N*T, extrapolated to {n_goal} x {t_goal} +- its standard error "
          "(worst residual in brackets):")
    summary = {}
    for run in RUNS:
        f = Fit(rows(lambda r, run=run: r["times"][run]["seconds"]), LINEAR_NT)
        at, err = f.predict(n_goal, t_goal), f.error(n_goal, t_goal)
        ok = "ok" if at <= GOALS[run] else "over"
        a, b, c = f.coef
        print(f"  {run:<11} a={a:.3f} s  b={b * 1e3:.2f} ms/service  c={c * 1e6:.3f} us/tag"
              f"  [{f.worst:.0%}]  ->  {at:6.2f} s +- {err:.2f}   (goal {GOALS[run]:.0f} s: {ok})")
        summary[run] = {"a": a, "b": b, "c": c, "worst_residual": f.worst, "seconds": at, "error": err}
    print("\nthe same fit for CPU seconds, less disturbed by other load than wall time (shipmark's own;"
          " the registry's meanwhile), and the wall time those need on an idle 2-core machine at least:"
          " max(shipmark, (shipmark + registry) / 2):")
    for run in RUNS:
        own = Fit(rows(lambda r, run=run: r["times"][run]["cpu"]), LINEAR_NT)
        reg = Fit(rows(lambda r, run=run: r["times"][run]["registry_cpu"]), LINEAR_NT)
        mine, theirs = own.predict(n_goal, t_goal), reg.predict(n_goal, t_goal)
        print(f"  {run:<11} shipmark b={own.coef[1] * 1e3:.2f} ms/service c={own.coef[2] * 1e6:.3f} us/tag"
              f" -> {mine:6.2f} s +- {own.error(n_goal, t_goal):.2f};  registry b={reg.coef[1] * 1e3:.2f} ms/service"
              f" c={reg.coef[2] * 1e6:.3f} us/tag -> {theirs:6.2f} s +- {reg.error(n_goal, t_goal):.2f};"
              f"  wall >= {max(mine, (mine + theirs) / 2):.2f} s")
        summary[run].update(cpu=mine, registry_cpu=theirs)
    print(f"\nsame fit for what each run sends and receives, at {n_goal} x {t_goal}:")
    for run in RUNS:
        n_req = Fit(rows(lambda r, run=run: r["counts"][run]["requests"]), LINEAR_NT).predict(n_goal, t_goal)
        n_tags = Fit(rows(lambda r, run=run: r["counts"][run]["tag_list_bytes"]), LINEAR_NT).predict(n_goal, t_goal)
        conns = max(r["counts"][run]["connections"] for r in results)
        used = max(r["counts"][run]["connections_used"] for r in results)
        print(f"  {run:<11} {n_req:>9,.0f} requests  {n_tags / 1e6:>8.1f} MB of tag lists"
              f"  ({n_tags / n_goal / 1024:.0f} KB/service)   connections opened: at most {conns}"
              f" ({used} carrying requests; goal {CONNECTIONS_GOAL})")
        summary[run].update(requests=n_req, tag_list_bytes=n_tags, connections=conns)
    print(f"\npeak RSS at {n_goal} x {t_goal} (goal {RSS_GOAL_MB} MB):")
    for run in RUNS:
        nt = Fit(rows(lambda r, run=run: r["times"][run]["rss_mb"]), LINEAR_NT)
        lt = Fit(rows(lambda r, run=run: r["times"][run]["rss_mb"]), LINEAR_T)
        at_nt, at_t = nt.predict(n_goal, t_goal), lt.predict(n_goal, t_goal)
        print(f"  {run:<11} a + b*N + c*N*T: {at_nt:6.1f} MB [{nt.worst:.0%}]    a + b*N + c*T: {at_t:6.1f} MB"
              f" [{lt.worst:.0%}]   (largest measured {max(r['times'][run]['rss_mb'] for r in results):.1f} MB)")
        summary[run].update(rss_mb_nt=at_nt, rss_mb_t=at_t)
    return summary


def main():
    sys.stdout.reconfigure(line_buffering=True)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="16x30,32x30,64x30,16x200,32x200,8x1000",
                    help="N x T, comma-separated (at least 3; T of 16 or more, as the board shows 15)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--target", default="500x1000")
    ap.add_argument("--direct", default="500x1000", help="N x T for the shared-repository check ('none': skip)")
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    args = ap.parse_args()
    configs = parse_configs(args.configs)
    target = parse_configs(args.target)[0]
    if len(configs) < 3:
        raise SystemExit("--configs: the fit needs at least three configurations")

    # An installed package has its bytecode compiled at install time; a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module on every run instead.
    compileall.compile_dir(str(HERE.parent / "python" / "shipmark"), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    registry = servers.start_registry2(work / "registry")
    global REGISTRY_PID
    REGISTRY_PID = registry.proc.pid
    proxy = FaultProxy(registry.host).start()
    print(f"Docker Registry 2.8 at {registry.host}; load average {load_average()}")
    try:
        started = time.perf_counter()
        largest = {}
        for n, t in configs:
            largest[t] = max(largest.get(t, 0), n)
        fleets = {t: push_fleet(registry.host, f"fleet{t}", n, t) for t, n in sorted(largest.items())}
        images = sum(n * t for t, n in largest.items())
        print(f"pushed {images} images with 3 records each in {time.perf_counter() - started:.0f} s; "
              f"load average {load_average()}")
        results = []
        for n, t in configs:
            workdir = work / f"{n}x{t}"
            workdir.mkdir()
            names = fleets[t][:n]
            write_services(workdir / "services.yaml", registry.host, f"fleet{t}", names)
            write_services(workdir / "proxied.yaml", proxy.host, f"fleet{t}", names)
            times = timed_rounds(workdir, args.rounds)
            counts = counted(workdir, proxy)
            results.append({"N": n, "T": t, "times": times, "counts": counts})
            print(f"  {n} x {t}: " + ", ".join(f"{run} {times[run]['seconds']:.2f} s (CPU {times[run]['cpu']:.2f} + "
                                              f"{times[run]['registry_cpu']:.2f})" for run in RUNS)
                  + f"; picked {counts['plan cold']['picked']}; load average {load_average()}")
        summary = report(results, target)
        shared = direct(registry, proxy, work, *parse_configs(args.direct)[0]) if args.direct != "none" else {}
        print(f"\ntotal {time.perf_counter() - started:.0f} s; load average {load_average()}")
        if args.json:
            Path(args.json).write_text(json.dumps({"results": results, "extrapolated": summary,
                                                   "direct": shared}, indent=2))
    finally:
        proxy.stop()
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
