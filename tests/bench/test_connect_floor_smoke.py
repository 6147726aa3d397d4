"""bench/connect_floor.py (daphne's own connect rate, the floor under the connect figures)
runs end to end: it starts daphne, connects every socket and says how long that took."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_daphne_accepts_every_socket_and_the_run_says_how_fast():
    script = str(REPO / "bench" / "connect_floor.py")
    done = subprocess.run(
        [sys.executable, script, "--sockets", "40", "--runs", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    runs = re.findall(r"^run \d: 40 sockets in (\d+\.\d+) s$", done.stdout, re.M)
    assert len(runs) == 2 and all(float(seconds) > 0 for seconds in runs)
    assert re.search(r"^median \d+\.\d+ s \(\d+ connects/s\)$", done.stdout, re.M)
