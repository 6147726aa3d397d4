"""bench/post_cpu.py (a socket post's CPU, the A/B tool for posting changes) runs end to
end on the test database: it posts as a socket does and reports the cost of each run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from chat.models import Message

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_posts_as_a_socket_does_and_reports_each_runs_cost():
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "post_cpu.py"), "--posts", "20", "--runs", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    runs, summary = lines[:-1], lines[-1]
    assert len(runs) == 2 and all(run["python_cpu_us"] > 0 for run in runs)
    assert (summary["posts"], summary["runs"]) == (20, 2)
    assert summary["median"]["python_cpu_us"] > 0
    posted = Message.objects.filter(room__slug="bench-cpu")
    assert posted.count() == 50 + 2 * 20  # the warm-up posts, then each run's
    assert list(posted.order_by("seq").values_list("seq", flat=True)) == list(range(1, 91))
