"""The run report's analysis views: device × precision × pruning matrix, Pareto plots, roofline position and
the environment differences between boards — every figure with its table, values autoescaped."""

from __future__ import annotations

import re
from pathlib import Path

from lab.matrixjobs import JOBS, job
from lab.storegen import SNAPSHOT

from benchbench.config.profiles import load_profile, snapshot_facts
from benchbench.report.render import render_run
from benchbench.results.store import Store

ODD = "lab <b> & co"


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "r.db")
    store.create_run("r", "study", None, None, "0.1.0", {"hostname": "ci"}, {}, started_at=1.7e9)
    # the profile facts as a run records them (the report reads no device YAML)
    pi5, generic = (snapshot_facts(load_profile(p), "t") for p in ("pi5", "generic-linux"))
    store.record_board("r", "pi5", {**SNAPSHOT, **pi5}, status="complete")
    store.record_board("r", "rk3588", {**SNAPSHOT, "kernel": "6.1.0-rk", **generic}, status="complete")
    store.record_board("r", ODD, {**SNAPSHOT, "libraries": {"onnxruntime": "1.19.0"}}, status="complete")
    gemm = {"ops_per_call": 2e9, "ops_unit": "FLOP", "bytes_per_call": 1e9}
    kernels = [job("pi5", "fp32", "none", 0.1, workload="gemm", backend="numpy", work=gemm),
               job("rk3588", "fp32", "none", 0.1, workload="gemm", backend="numpy", work=gemm),
               job(ODD, "fp32", "none", 0.1, workload="gemm", backend="numpy", work=gemm)]
    for rec in [*JOBS, *kernels]:
        store.add_job(rec)
    store.finish_run("r", "complete")
    return store


def _section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]


def test_views_in_the_report(tmp_path: Path) -> None:
    html = render_run(_store(tmp_path).load_run("r"))
    assert "<script" not in html and ODD not in html and "lab &lt;b&gt; &amp; co" in html

    matrix = _section(html, "matrix").split("<h3>resnet18", 1)[1]
    assert "<th>fp32</th><th>fp16</th><th>int8</th><th>fp32 · 50pct</th><th>int8 · 50pct</th>" in matrix
    pi5 = re.search(r"<tr><td>pi5</td>(.*?)</tr>", matrix).group(1)  # type: ignore[union-attr]
    assert ">4 ms ×2.50</td>" in pi5 and ">2 ms ×4.00</td>" in pi5  # int8 vs fp32, int8·50pct vs fp32·50pct
    assert "×2.00 vs unpruned" in pi5
    long_int8 = re.search(r"<tr><td>pi5</td><td>int8 · 50pct</td>(.*?)</tr>", matrix).group(1)  # type: ignore
    assert "<td>17.0 dB (cos 0.9800)</td>" in long_int8 and "<td>×4.00</td><td>×2.00</td>" in long_int8

    pareto = _section(html, "pareto")
    figures = pareto.split('<figure class="side">')[1:]
    assert len(figures) == 1  # pi5 · resnet18; rk3588 has one variant only
    fig = figures[0]
    assert fig.count("<svg") == 1 and fig.count("<table") == 1
    rows = re.findall(r"<tr( class=\"optimal\")?><td>([^<]+)</td>", fig)
    assert {v: bool(o) for o, v in rows} == {"fp32": True, "fp16": False, "int8": True, "fp32 · 50pct": True,
                                            "int8 · 50pct": True}
    assert "energy unavailable" not in fig.split("<figcaption>")[1]
    assert fig.count('stroke="#cf222e" stroke-width="2"') == 4  # four ringed front points

    roof = _section(html, "roofline")
    boards = dict(re.findall(r"<h3>([^<]+)</h3>(.*?)</figure>", roof, re.DOTALL))
    assert set(boards) == {"pi5", "rk3588", "lab &lt;b&gt; &amp; co"}
    assert "13.0 % of fp32" in boards["pi5"] and "58.6 %" in boards["pi5"] and "profile pi5" in boards["pi5"]
    assert boards["pi5"].count("<svg") == 1 and boards["pi5"].count("<table") == 1
    assert "no peak in profile generic-linux" in boards["rk3588"] and "<svg" not in boards["rk3588"]
    assert "no device profile recorded" in boards["lab &lt;b&gt; &amp; co"]

    env = html.split('id="envdiff-table"', 1)[1].split("</table>", 1)[0]
    assert "<code>kernel</code><" in env and "6.1.0-rk" in env
    assert "<code>libraries.onnxruntime</code>" in env and "1.19.0" in env
    assert "hostname" not in env


def test_energy_unavailable_is_said(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    store.create_run("r", "study", None, None, "0.1.0", {}, {}, started_at=1.7e9)
    store.record_board("r", "pi5", SNAPSHOT, status="complete")
    for rec in (job("pi5", "fp32", "none", 0.01), job("pi5", "int8", "none", 0.004, cos=0.99)):
        store.add_job(rec)
    html = render_run(store.load_run("r"))
    fig = _section(html, "pareto")
    assert fig.count("energy unavailable") >= 2  # in the figure's legend and its caption
    assert "<td class=\"num\">unavailable</td>" in fig
    assert 'id="envdiff-table"' not in html  # one board: nothing to compare


def test_roofline_peaks_come_from_the_run_not_from_device_yaml(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    store.create_run("r", "study", None, None, "0.1.0", {}, {}, started_at=1.7e9)
    facts = snapshot_facts(load_profile("pi5"), "t")
    # a profile renamed or deleted since the run: the recorded peaks still hold
    store.record_board("r", "pi5", {**SNAPSHOT, **facts, "profile": "gone-since"}, status="complete")
    # a run stored before peaks were recorded: said plainly, not looked up in today's YAML
    store.record_board("r", "old", {**SNAPSHOT, "profile": "pi5"}, status="complete")
    gemm = {"ops_per_call": 2e9, "ops_unit": "FLOP", "bytes_per_call": 1e9}
    for board in ("pi5", "old"):
        store.add_job(job(board, "fp32", "none", 0.1, workload="gemm", backend="numpy", work=gemm))
    roof = _section(render_run(store.load_run("r")), "roofline")
    boards = dict(re.findall(r"<h3>([^<]+)</h3>(.*?)</figure>", roof, re.DOTALL))
    assert "profile gone-since; fp32:" in boards["pi5"] and "13.0 % of fp32" in boards["pi5"]
    assert "Peaks: peaks not recorded with this run" in boards["old"] and "<svg" not in boards["old"]
