"""Run a script in a fresh process on the product's own settings, embedded by default:
no DATABASE_URL or REDIS_URL from the test run (SQLite and the in-memory layer,
as `make run`), plus whatever ``env`` sets."""

import os
import subprocess
import sys

from tests.support.servers import ROOT


def run_embedded(script: str, *, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    clean.update({"DJANGO_SETTINGS_MODULE": "project.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
