"""`benchbench run` end to end on the local board: real agent subprocess, real SQLite, real report."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from benchbench.results.store import Store


class Cells(HTMLParser):
    """Collects the summary table as {(workload, precision): {col: text}} and any <script> tags."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str, str], dict[str, str]] = {}
        self.scripts = 0
        self.external: list[str] = []
        self._row: tuple[str, str, str] | None = None
        self._col: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            if a.get(k) and not a[k].startswith("#"):
                self.external.append(a[k])
        if tag == "tr" and "data-workload" in a:
            self._row = (a["data-board"], a["data-workload"], a["data-precision"])
            self.rows[self._row] = {}
        if tag == "td" and self._row and "data-col" in a:
            self._col, self._text = a["data-col"], ""

    def handle_data(self, data):
        if self._col:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "td" and self._col and self._row:
            self.rows[self._row][self._col] = self._text.strip()
            self._col = None
        if tag == "tr":
            self._row = None


@pytest.mark.slow
def test_run_stores_jobs_and_renders_a_self_contained_report(tmp_path: Path, bb, bb_env, tiny_suite):
    res = bb("run", "--suite", str(tiny_suite), "--db", "r.db", "--json", env=bb_env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    outcome = json.loads(res.stdout)
    assert outcome["statuses"] == {"ok": 3}
    store = Store(tmp_path / "r.db")
    run = store.load_run(outcome["run_id"])
    assert run.info.status == "complete"
    by_wl = {(j.workload, j.precision): j for j in run.jobs}
    gemm = by_wl[("gemm", "fp32")]
    assert gemm.backend == "numpy" and "numpy" in gemm.implementation
    assert gemm.timed_window and "matmul" in gemm.timed_window
    p50 = gemm.value("latency.p50")
    assert p50 and 0 < p50 < 0.01
    assert gemm.value("latency.min") <= p50 <= gemm.value("latency.p99") <= gemm.value("latency.max")
    assert gemm.value("latency.ci95_lo") <= p50 <= gemm.value("latency.ci95_hi")
    # GFLOP/s is consistent with the FLOP count of a 64³ GEMM at the median
    assert gemm.value("throughput.ops") == pytest.approx(2 * 64**3 / p50 / 1e9)
    assert gemm.value("mem.peak_rss") > 10e6
    # raw values are kept: recomputing the median gives the stored one
    raw = [v for r in gemm.raw["latency_rounds"] for v in r["values_s"]]
    assert len(raw) == 10 and np.percentile(raw, 50) == pytest.approx(p50)
    # this machine has no power sensor: unavailable with a reason, never 0
    power = gemm.metric("power.mean")
    assert power.value is None and "powercap" in power.unavailable_reason
    int8 = by_wl[("gemm", "int8")]
    assert "onnxruntime" in int8.implementation and int8.status == "ok"
    assert int8.work["ops_unit"] == "OP"
    assert run.boards[0].snapshot["python"]["version"]
    # the report parses and shows the stored values
    report = Path(outcome["report"])
    if not report.is_absolute():
        report = tmp_path / report
    html = report.read_text()
    p = Cells()
    p.feed(html)
    assert p.scripts == 0 and p.external == []
    row = p.rows[("local", "gemm", "fp32")]
    # the cell shows p50 to 3 significant digits in its column's unit ("14.0 µs", "1.23 ms")
    shown, unit = row["latency.p50"].split()[:2]
    scale = {"s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}[unit]
    assert float(shown) * scale == pytest.approx(p50, rel=6e-3)
    assert row["power.mean"].startswith("unavailable")
    assert "<svg" in html and "Latency distributions" in html


@pytest.mark.slow
def test_two_runs_and_report_selection(tmp_path: Path, bb, bb_env, tiny_suite):
    ids = []
    for _ in range(2):
        res = bb("run", "--suite", str(tiny_suite), "--db", "two.db", "--json", "--no-report", env=bb_env,
                 cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        ids.append(json.loads(res.stdout)["run_id"])
    runs = Store(tmp_path / "two.db").list_runs()
    assert [r.run_id for r in runs] == ids[::-1]
    latest = bb("report", "--db", "two.db", "-o", "latest.html", env=bb_env, cwd=tmp_path)
    assert latest.returncode == 0, latest.stderr
    assert ids[1] in (tmp_path / "latest.html").read_text()
    first = bb("report", "--db", "two.db", "--run", ids[0], "-o", "first.html", env=bb_env, cwd=tmp_path)
    assert first.returncode == 0
    text = (tmp_path / "first.html").read_text()
    assert re.search(r'id="run-id">' + re.escape(ids[0]), text)
    listed = bb("report", "--db", "two.db", "--list", "--json", env=bb_env, cwd=tmp_path)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == ids[::-1]
