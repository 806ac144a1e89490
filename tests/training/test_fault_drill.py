"""The fault drill (``scripts/fault_drill.py``) in CI: 8 SIGKILLs at random moments, each followed by
``resume=RUN_DIR``, and the result equals the uninterrupted run's exactly. (The drill's documented run is 20
kills; 8 keep CI short: each kill costs a process start, and the last three wait for the adversarial stage.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fault_drill.py"


def test_eight_kills_at_random_moments_leave_the_result_exactly_as_an_uninterrupted_run(tmp_path):
    report_file = tmp_path / "report.json"
    command = [sys.executable, str(SCRIPT), "--kills", "8", "--seed", "0", "--workdir", str(tmp_path / "drill"),
               "--report", str(report_file)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, env={**os.environ})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(report_file.read_text())
    assert report["kills"] == 8 and report["identical"] and report["differences"] == []
    assert sum(report["landed"].values()) == 8
    assert any(where.startswith("adversarial") for where in report["landed"])
