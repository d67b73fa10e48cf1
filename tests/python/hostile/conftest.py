"""Fixtures for hostile-input tests: a misbehaving registry on loopback and the real `shipmark`
command run in a child process, measured.

- `hostile`: a HostileRegistry on 127.0.0.1 (see hostile_registry.py for its knobs), stopped at
  teardown. `other_host`: another one on 127.0.0.2, standing for a different host.
- `shipmark(*argv, env={}, timeout=60)` runs `python -m shipmark` with this tree on PYTHONPATH,
  in tmp_path, with an empty cache dir (`tmp_path/cache`) and no credentials, and returns a
  Ran: code, out, err, seconds and the child's peak RSS in MiB (os.wait4 reports it for exactly
  that child).
"""

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hostile_registry import HostileRegistry  # noqa: E402

PYTHON_DIR = Path(__file__).resolve().parents[3] / "python"


@pytest.fixture
def hostile():
    with HostileRegistry() as registry:
        yield registry


@pytest.fixture
def other_host():
    with HostileRegistry(host="127.0.0.2") as registry:
        yield registry


@dataclass
class Ran:
    code: int
    out: str
    err: str
    seconds: float
    max_rss_mib: float


@pytest.fixture
def shipmark(tmp_path):
    cache = tmp_path / "cache"
    home = tmp_path / "home"
    home.mkdir()

    def run(*argv, env=None, timeout=60) -> Ran:
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SHIPMARK_", "JENKINS_", "BUILD_"))}
        environ.update({"PYTHONPATH": str(PYTHON_DIR), "SHIPMARK_CACHE_DIR": str(cache),
                        "HOME": str(home), "DOCKER_CONFIG": str(home / ".docker")})
        environ.update(env or {})
        out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
        started = time.monotonic()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "shipmark", *map(str, argv)],
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    cwd=tmp_path, env=environ)
            watchdog = threading.Timer(timeout, proc.kill)
            watchdog.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                watchdog.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        return Ran(proc.returncode, out_path.read_text(), err_path.read_text(),
                   time.monotonic() - started, usage.ru_maxrss / 1024)

    run.cache = cache
    return run
