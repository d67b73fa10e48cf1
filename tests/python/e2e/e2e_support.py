"""Helpers for the end-to-end tests (conftest modules are not importable by name)."""

import os
import subprocess
import sys

SHIPMARK = os.path.join(os.path.dirname(sys.executable), "shipmark")


def run_shipmark(*argv, env=None, timeout=300):
    """The installed console script in its own process."""
    return subprocess.Popen([SHIPMARK, *map(str, argv)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, **(env or {})))
