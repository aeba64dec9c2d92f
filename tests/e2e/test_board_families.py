"""Issue #4 end to end: one emulated lab board per family (Pi 5, RK3588 without a meter, Jetson Orin Nano,
Ascend 310B, a board with a PTDaemon meter bound), real sshd boards, the real CLI.

* the Pi 5 gets the fake ``vcgencmd`` on PATH (sticky-only throttle flags) and a Pi sysfs tree;
* RK3588 and Jetson get their sysfs trees bind-mounted over ``/sys`` (``unshare --mount``, that board only);
  a writer process drops an RK3588 cpufreq clock mid-job, the rail simulator drives the Jetson VDD_IN
  current on a schedule so stored energy is checked against the known integral;
* Ascend gets the fake ``npu-smi``; the meter board's profile binds the fake PTDaemon on loopback.

Boards run the Debian ``/usr/bin/python3`` (no numpy): the suite uses the pure-Python ``busy`` workload.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
from lab.fleets import lab_fleet
from lab.suites import suite_yaml

from benchbench.results.records import JobRecord
from benchbench.results.store import Store
from tests.lab import rail_sim
from tests.lab import sysfs_fixtures as fx
from tests.lab.fake_ptd import FakePtd

pytestmark = pytest.mark.slow

PERSONALITIES = Path(__file__).resolve().parents[1] / "lab" / "personalities"
SUITE = suite_yaml("families", "  - workload: busy\n    params: {n: 20000}\n", warmup_s=0.05, min_value_s=0.1,
                   rounds=6, values_per_round=5, max_timed_s=30, interval_s=0.01)
VDD_IN_MV = 5000
#: Jetson VDD_IN current steps (mA), each held 0.5 s: long against the 10 ms sampling interval
RAIL_STEPS = [(0.5, 1140), (0.5, 2600), (0.5, 1800), (0.5, 3200)] * 60
#: RK3588 big-core policy4 clock (kHz) toggling between max and half: a throttled cluster
CLOCK_STEPS = [(0.4, 2400000), (0.4, 1200000)] * 150


@pytest.fixture(scope="module")
def family_lab(ssh_lab):  # type: ignore[no-untyped-def]
    """Five boards, the meter and the writer processes; torn down in reverse."""
    root = ssh_lab.root / "families"  # under the lab root: the (non-root) login user can read it
    procs: list[subprocess.Popen[bytes]] = []
    ptd = FakePtd(watts=lambda t: 22.95)
    boards = {}

    def tree(name: str) -> Path:
        d = root / name
        (d / "sys").mkdir(parents=True)
        return d

    # Raspberry Pi 5: vcgencmd fake with sticky-only flags (under-voltage and throttled since boot)
    pi = tree("pi5")
    fx.pi5(pi)
    fx.thermal_zones(pi, [("cpu-thermal", 55000)])
    state = root / "pi5-state.json"
    state.write_text(json.dumps({"throttled": 0x50000, "temp_c": 55.0}))
    boards["pi5"] = ssh_lab.add_board("fam-pi5", extra_path=PERSONALITIES / "rpi",
                                      setenv={"FAKE_BOARD_STATE": str(state)},
                                      mounts=[(str(pi / "sys"), "/sys")])
    # RK3588 (vendor kernel), no power monitor
    rk = tree("rk3588")
    fx.rk3588(rk)
    boards["rk3588"] = ssh_lab.add_board("fam-rk3588", mounts=[(str(rk / "sys"), "/sys")])
    # Jetson Orin Nano: INA3221 hwmon + tegrastats/nvpmodel/jetson_clocks fakes
    jn = tree("jetson")
    hw = fx.jetson_orin_nano(jn)
    boards["jetson"] = ssh_lab.add_board("fam-jetson", extra_path=PERSONALITIES / "jetson",
                                         mounts=[(str(jn / "sys"), "/sys")])
    boards["ascend"] = ssh_lab.add_board("fam-ascend", extra_path=PERSONALITIES / "ascend")
    boards["meter"] = ssh_lab.add_board("fam-meter")
    curr = Path(str(jn) + hw) / "curr1_input"
    rail_log = root / "rail.log"
    procs.append(rail_sim.start(str(curr), str(rail_log), RAIL_STEPS))
    # the rail simulator is a plain integer-file writer: reused to drop a cpufreq clock on a schedule
    clock = rk / "sys/devices/system/cpu/cpufreq/policy4/scaling_cur_freq"
    procs.append(rail_sim.start(str(clock), str(root / "clock.log"), CLOCK_STEPS))
    meter_profile = root / "lab-meter.yaml"
    meter_profile.write_text(f"""name: lab-meter
description: lab board measured at the wall by an analyzer behind PTDaemon
samplers: [cpufreq, thermal, memory]
meter: {{host: 127.0.0.1, port: {ptd.port}}}
""")
    profiles = {"pi5": "pi5", "rk3588": "rk3588", "jetson": "jetson-orin-nano", "ascend": "ascend-310b",
                "meter": str(meter_profile)}
    by_name = {b.name: profiles[k] for k, b in boards.items()}
    fleet = lab_fleet(root, ssh_lab, boards.values(), tags=False,
                      extra=lambda b: {"profile": f"'{by_name[b.name]}'", "python": "/usr/bin/python3"})
    try:
        yield {"fleet": fleet, "boards": boards, "rail_log": rail_log, "ptd": ptd}
    finally:
        for p in procs:
            p.kill()
            p.wait()
        ptd.close()


@pytest.fixture
def fleet_env(bb_env):  # type: ignore[no-untyped-def]
    env = dict(bb_env)
    env.pop("SSH_AUTH_SOCK", None)
    return env


def _by_name(sensors: list[dict], name: str) -> dict:  # type: ignore[type-arg]
    return next(s for s in sensors if s["name"] == name)


def test_fleet_check_lists_sensors_with_scope_and_unit(tmp_path: Path, bb, fleet_env, family_lab):
    (tmp_path / "ssh_config").write_text("")
    res = bb("fleet", "check", "--fleet", str(family_lab["fleet"]), "--json", "--ssh-config",
             str(tmp_path / "ssh_config"), env=fleet_env, cwd=tmp_path)
    assert res.returncode in (0, 1), res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    b = family_lab["boards"]
    for r in rows.values():
        assert r["reachable"], r
        for s in r["sensors"]:
            assert {"name", "quantity", "scope", "unit", "available"} <= set(s), s
            assert s["available"] or s["reason"]
    pi = rows[b["pi5"].name]["sensors"]
    assert _by_name(pi, "pmic_rails_power") == {**_by_name(pi, "pmic_rails_power"), "quantity": "power",
                                                "scope": "rails_sum", "unit": "W", "available": True}
    assert "PMIC rails" in _by_name(pi, "pmic_rails_power")["label"]
    jet = rows[b["jetson"].name]["sensors"]
    head = _by_name(jet, "jetson_total_power")
    assert (head["scope"], head["unit"], head["available"]) == ("module_input", "W", True)
    assert "VDD_IN" in head["source"] and "VDD_IN" in head["label"]
    rk = rows[b["rk3588"].name]["sensors"]
    rk_power = [s for s in rk if s["quantity"] == "power"]
    assert rk_power and not any(s["available"] for s in rk_power)
    assert any("no on-board power" in s["reason"] or "meter" in s["reason"] for s in rk_power)
    assert any(s["quantity"] == "clock" and s["available"] for s in rk)  # the mounted cpufreq/devfreq tree
    asc = [s for s in rows[b["ascend"].name]["sensors"] if s["quantity"] == "power" and s["available"]]
    assert [(s["scope"], s["unit"]) for s in asc] == [("accelerator", "W")]
    wall = _by_name(rows[b["meter"].name]["sensors"], "wall_power")
    assert (wall["scope"], wall["unit"], wall["available"]) == ("wall", "W", True)


def _job(jobs: list[JobRecord], board: str) -> JobRecord:
    return next(j for j in jobs if j.board == board)


def _power_cell(page: str, board: str) -> tuple[str, str]:
    """(title, text) of the summary table's power cell in the row of ``board``."""
    row = re.search(rf'<tr [^>]*data-workload="busy"[^>]*data-board="{re.escape(board)}">(.*?)</tr>', page,
                    re.DOTALL)
    assert row, board
    cell = re.search(r'<td data-col="power.mean"(?: title="([^"]*)")?(?: class="[^"]*")?>(.*?)</td>',
                     row.group(1), re.DOTALL)
    assert cell
    return html.unescape(cell.group(1) or ""), html.unescape(re.sub(r"<[^>]+>", "", cell.group(2)))


def test_fleet_run_stores_power_with_scope_throttling_and_energy(tmp_path: Path, bb, fleet_env, family_lab):
    (tmp_path / "ssh_config").write_text("")
    (tmp_path / "s.yaml").write_text(SUITE)
    report = tmp_path / "r.html"
    res = bb("run", "--fleet", str(family_lab["fleet"]), "--suite", "s.yaml", "--db", "f.db", "--json",
             "--report", str(report), "--ssh-config", str(tmp_path / "ssh_config"), env=fleet_env,
             cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-2000:]
    outcome = json.loads(res.stdout)
    run = Store(tmp_path / "f.db").load_run(outcome["run_id"])
    b = family_lab["boards"]
    assert {j.board: j.status for j in run.jobs} == {x.name: "ok" for x in b.values()}, json.dumps(outcome)

    expect = {"pi5": ("rails_sum", "vcgencmd pmic_read_adc"), "jetson": ("module_input", "INA3221 VDD_IN"),
              "ascend": ("accelerator", "npu-smi"), "meter": ("wall", "ptdaemon 127.0.0.1")}
    for key, (scope, source) in expect.items():
        j = _job(run.jobs, b[key].name)
        for name in ("power.mean", "energy.per_inference"):
            m = j.metric(name)
            assert m is not None and m.value is not None and m.value > 0, (key, name, m)
            assert m.scope == scope and source in (m.source or ""), (key, m)
        assert "device profile headline" in (j.metric("power.mean").detail or "")  # type: ignore[union-attr]
    # the fake meter reads a constant 22.95 W; the fake npu-smi 7.4 W
    assert _job(run.jobs, b["meter"].name).value("power.mean") == pytest.approx(22.95, rel=1e-3)
    assert _job(run.jobs, b["ascend"].name).value("power.mean") == pytest.approx(7.4, rel=1e-3)
    rk = _job(run.jobs, b["rk3588"].name)
    for j in run.jobs:  # the measured numbers, for the log
        print(j.board, [(m.name, m.value, m.scope, (m.detail or "")[:90]) for m in j.metrics
                        if m.name.startswith(("power.mean", "energy.per_inference"))], j.details["throttle"])
    for name in ("power.mean", "energy.per_inference"):
        m = rk.metric(name)
        assert m is not None and m.value is None and "no on-board power" in (m.unavailable_reason or "")

    # throttling: the RK3588 clock dropped inside the timed windows; the Pi's flags were sticky only
    thr = rk.details["throttle"]
    assert thr["throttled"] is True
    ev = next(e for e in thr["evidence"] if e["kind"] == "clock_below_reference")
    assert (ev["channel"], ev["reference_mhz"], ev["lowest_mhz"]) == ("cpu_a76_0_clock", 2400.0, 1200.0), ev
    assert not any(e.get("channel", "").startswith(("cpu_a55", "cpu_a76_1")) for e in thr["evidence"])
    assert "throttled" in [w.code for w in rk.warnings]
    pi = _job(run.jobs, b["pi5"].name)
    assert pi.details["throttle"]["throttled"] is False
    assert "history since boot" in pi.details["throttle"]["notes"][0]
    assert "throttled" not in [w.code for w in pi.warnings]

    # energy against the rail simulator's exact integral over the same window: the steady-state energy phase
    jet = _job(run.jobs, b["jetson"].name)
    phase = jet.details["energy_phase"]
    windows = [(phase["t_start_ns"], phase["t_end_ns"])]
    exact_j = sum(rail_sim.exact_energy_j(str(family_lab["rail_log"]), VDD_IN_MV, w) for w in windows)
    stored_j = jet.value("energy.jetson_total_power")
    assert stored_j is not None and exact_j > 0
    err = abs(stored_j - exact_j) / exact_j
    print(f"jetson energy: stored {stored_j:.4f} J, simulator {exact_j:.4f} J, error {err * 100:.3f} %")
    assert err < 0.02
    assert jet.value("energy.per_inference") == pytest.approx(stored_j / phase["calls"], rel=1e-9)

    # the HTML report: PMIC rails for the Pi, "unavailable" + reason for the RK3588, wall for the meter
    page = report.read_text()
    notes = {int(n): html.unescape(t) for n, t in re.findall(r'<li id="note-(\d+)">(.*?)</li>', page,
                                                             re.DOTALL)}
    title, text = _power_cell(page, b["pi5"].name)  # "10.8 W" + the scope + the note number
    m = re.fullmatch(r"[\d.]+ W rails_sum(\d+)", text)
    assert m and "PMIC rails" in title, (text, title)
    assert notes[int(m.group(1))].startswith("rails_sum: PMIC rails, excludes 5 V loads")
    title, text = _power_cell(page, b["rk3588"].name)
    assert text.startswith("unavailable")
    note = notes[int(text.removeprefix("unavailable"))]
    assert note.startswith("unavailable: ") and "no on-board power" in note
    title, text = _power_cell(page, b["meter"].name)
    m = re.fullmatch(r"[\d.]+ W wall(\d+)", text)
    assert m and "PTDaemon" in title, (text, title)
    assert "via PTDaemon" in notes[int(m.group(1))]
