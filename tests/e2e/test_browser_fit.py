"""Reports that fit the screen (issue #17), in a real headless Chromium at 1366×768 and 390×844: no page-wide
horizontal scroll, the Findings block above the first table, the power and energy columns within the first
screenful at 1366 px, no console errors, no requests; screenshots under perf-results/ (git-ignored).

Two reports: a real run of the kernel suite used by the e2e tests (quick-suite columns: kernels, throughput,
no fidelity), and a stored model-variant run (interleaved int8/fp16/pruned variants with fidelity and
energy)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from lab.matrixjobs import JOBS

from benchbench.report.render import write_report
from benchbench.results.store import Store

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "perf-results" / "report-fit"
VIEWPORTS = ((1366, 768), (390, 844))

MEASURE = """() => {
  const r = s => { const e = document.querySelector(s); if (!e) return null;
                   const b = e.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
          findings: r('#findings'), table: r('table'), power: r('th[data-col="power.mean"]'),
          energy: r('th[data-col="energy.per_inference"]')};
}"""


def _check(watched_page, url: str, name: str) -> dict[str, object]:
    page = watched_page.page
    out: dict[str, object] = {}
    for w, h in VIEWPORTS:
        page.set_viewport_size({"width": w, "height": h})
        page.goto(url, wait_until="load")
        m = page.evaluate(MEASURE)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}-{w}.png"))
        out[str(w)] = m
        assert m["scroll"] == m["inner"] == w, m
        assert m["findings"][3] <= m["table"][1], m  # the answer ends before the first table starts
        if w == 1366:
            for col in ("power", "energy"):
                assert m[col] is not None and m[col][2] <= w and m[col][3] <= h, (col, m)
    assert watched_page.console_errors == []
    assert set(watched_page.requests) == {url}
    return out


@pytest.mark.slow
def test_kernel_suite_report_fits(tmp_path: Path, bb, bb_env, tiny_suite, watched_page) -> None:
    res = bb("run", "--suite", str(tiny_suite), "--db", "b.db", "--json", "-o", "report.html", env=bb_env,
             cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    url = (tmp_path / json.loads(res.stdout)["report"]).resolve().as_uri()
    m = _check(watched_page, url, "kernels")
    (SHOTS / "kernels.json").write_text(json.dumps(m, indent=1))


def test_model_variant_report_fits(tmp_path: Path, watched_page) -> None:
    store = Store(tmp_path / "m.db")
    store.create_run("r", "quantization-study", None, None, "0", {"hostname": "ci"}, {})
    for b in ("pi5", "rk3588"):
        store.record_board("r", b, {"hostname": b, "sensors": [
            {"name": "pmic.total", "quantity": "power", "unit": "W", "scope": "rails_sum", "available": True,
             "source": "vcgencmd pmic_read_adc", "update_period_s": 0.1, "read_cost_s": 2e-3},
            {"family": "hwmon", "quantity": "power", "scope": "board_input", "available": False,
             "reason": "no INA2xx on this board"}]})
    long = {"batch": 1, "input_shapes": "x=1x3x224x224",
            "calibration": "seeded-normal-64-samples-of-imagenet-ish"}
    for j in JOBS:
        store.add_job(replace(j, params={**j.params, **long},
                              metrics=j.metrics if j.value("energy.per_inference") is None else j.metrics
                              + (j.metric("energy.per_inference").__class__("power.mean", 5.0, "W",
                                                                            "rails_sum",
                                                                            "vcgencmd pmic_read_adc"),)))
    store.finish_run("r", "complete")
    out = tmp_path / "study.html"
    write_report(store.load_run("r"), out)
    html = out.read_text()
    assert "× faster" in html[:html.index('id="summary"')]
    m = _check(watched_page, out.resolve().as_uri(), "model-variants")
    (SHOTS / "model-variants.json").write_text(json.dumps(m, indent=1))
