"""`benchbench publish`: the static site's pages, relative links, regression markers and incremental
rebuilds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from lab.storegen import matrix, store_run

from benchbench.cli.main import main
from benchbench.report.site import slug
from benchbench.report.viewmodel import fmt_seconds
from benchbench.results.store import Store

N_RUNS, STEP_AT = 12, 8
ODD = "orin <nano> & co"


def _runs(store: Store, first: int, last: int) -> None:
    specs = matrix(["pi5", ODD], ["resnet18"], ["fp32", "int8"])
    for i in range(first, last):
        store_run(store, f"n{i:02d}", specs, seed=i, started_at=1.7e9 + 86400 * i,
                  level_factor={"pi5": 1.10 if i >= STEP_AT else 1.0},
                  throttled=frozenset({ODD}) if i == 3 else frozenset())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    tmp = tmp_path_factory.mktemp("site")
    db = tmp / "r.db"
    _runs(Store(db), 0, N_RUNS)
    res = CliRunner().invoke(main, ["publish", "--out", str(tmp / "www"), "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    return db, tmp / "www", json.loads(res.stdout)


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]*)"', html)


@pytest.mark.slow
def test_pages_and_relative_links(site: tuple[Path, Path, dict[str, object]]) -> None:
    _, www, outcome = site
    pages = sorted(str(p.relative_to(www)) for p in www.rglob("*.html"))
    assert outcome["unchanged"] == [] and sorted(outcome["written"]) == sorted(pages + ["site.css"])  # type: ignore
    assert pages == sorted(["index.html", "regressions.html", "devices.html",
                            *[f"runs/n{i:02d}.html" for i in range(N_RUNS)],
                            *[f"runs/n{i:02d}-vs-n{i - 1:02d}.html" for i in range(1, N_RUNS)],
                            "history/pi5/resnet18.html", f"history/{slug(ODD)}/resnet18.html"])
    for page in www.rglob("*.html"):
        html = page.read_text()
        assert "<script" not in html and "://" not in "".join(_links(html)), page
        for link in _links(html):
            assert not link.startswith("/"), (page, link)
            if link.startswith("#"):
                continue
            target = (page.parent / link.split("#")[0]).resolve()
            assert target.is_file() and www.resolve() in target.parents, (page, link)
    index = (www / "index.html").read_text()
    listed = re.findall(r'<a href="runs/(n\d\d)\.html">', index)
    assert listed == [f"n{i:02d}" for i in reversed(range(N_RUNS))]  # newest first
    assert "orin &lt;nano&gt; &amp; co" in index and ODD not in index  # autoescaped


def test_history_page_marks_the_step_and_regressions_page_lists_it(
        site: tuple[Path, Path, dict[str, object]]) -> None:
    _, www, _ = site
    hist = (www / "history/pi5/resnet18.html").read_text()
    assert hist.count("<svg") == 3  # latency, energy, memory: one figure each, a table beside each
    assert hist.count("<table") == 3
    marked = re.findall(r'<a href="../../runs/(n\d\d)\.html">n\d\d</a></td><td>[^<]*</td>'
                        r'((?:<td[^>]*>[^<]*</td>)+)',
                        hist)
    step_rows = [run for run, cells in marked if "▲" in cells]
    assert set(step_rows) <= {f"n{STEP_AT - 1:02d}", f"n{STEP_AT:02d}", f"n{STEP_AT + 1:02d}"} and step_rows
    odd = (www / f"history/{slug(ODD)}/resnet18.html").read_text()
    # throttled run kept, hollow
    assert "▲ " not in odd.split("<section", 1)[1] and 'class="num excluded"' in odd
    regs = (www / "regressions.html").read_text()
    rows = re.findall(r"<tr><td>(pi5 resnet18 (?:fp32|int8)/none[^<]*)</td><td>median latency</td>"
                      r'<td class="num step-worse">\+(\d+\.\d)%</td><td><a href="runs/(n\d\d)\.html">', regs)
    assert len(rows) == 2 and all(8.0 < float(pct) < 12.5 for _, pct, _ in rows)
    assert ODD.split()[0] not in regs


@pytest.mark.slow
def test_second_publish_rewrites_nothing_and_a_new_run_touches_only_what_changed(
        site: tuple[Path, Path, dict[str, object]], tmp_path: Path) -> None:
    db, www, _ = site
    copy = tmp_path / "www"
    import shutil
    shutil.copytree(www, copy)
    before = {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()}
    again = CliRunner().invoke(main, ["publish", "--out", str(copy), "--db", str(db), "--json"])
    doc = json.loads(again.stdout)
    assert doc["written"] == [] and doc["removed"] == []
    assert {p: p.stat().st_mtime_ns for p in copy.rglob("*") if p.is_file()} == before

    db2 = tmp_path / "r2.db"
    shutil.copy(db, db2)
    _runs(Store(db2), N_RUNS, N_RUNS + 1)
    doc = json.loads(CliRunner().invoke(main, ["publish", "--out", str(copy), "--db", str(db2),
                                               "--json"]).stdout)
    assert f"runs/n{N_RUNS:02d}.html" in doc["written"] and "index.html" in doc["written"]
    new_run = {f"runs/n{N_RUNS:02d}.html", f"runs/n{N_RUNS:02d}-vs-n{N_RUNS - 1:02d}.html"}
    assert new_run <= set(doc["written"])
    assert not any(w.startswith("runs/") and w not in new_run for w in doc["written"])
    assert (copy / "runs/n00.html").stat().st_mtime_ns == before[copy / "runs/n00.html"]

    (copy / "runs/n01.html").write_text("tampered")  # a damaged page is rebuilt, not trusted
    doc = json.loads(CliRunner().invoke(main, ["publish", "--out", str(copy), "--db", str(db2),
                                               "--json"]).stdout)
    assert doc["written"] == ["runs/n01.html"]
    assert "benchbench report" in (copy / "runs/n01.html").read_text()


def test_devices_page_puts_boards_side_by_side(site: tuple[Path, Path, dict[str, object]]) -> None:
    db, www, _ = site
    page = (www / "devices.html").read_text()
    assert page.count("<table") == 1 and "<svg" not in page  # one model: one table, no figure
    head = re.search(r"<thead><tr><th>precision · pruning</th>(.*?)</tr></thead>", page).group(1)  # type: ignore
    assert head == "<th>orin &lt;nano&gt; &amp; co</th><th>pi5</th>"  # boards sorted, escaped
    rows = dict(re.findall(r"<tr><td>(fp32|int8)</td>(.*?)</tr>", page))
    assert set(rows) == {"fp32", "int8"}
    last = Store(db).load_run(f"n{N_RUNS - 1:02d}")
    for precision, cells in rows.items():
        links = re.findall(r'<td class="num( best)?"><a href="(runs/n\d\d\.html)" '
                           r'title="run n\d\d">([^<]+)</a>', cells)
        assert [href for _, href, _ in links] == [f"runs/n{N_RUNS - 1:02d}.html"] * 2  # the latest run
        want = {j.board: j.value("latency.p50") for j in last.jobs if j.precision == precision}
        fastest = min(want, key=lambda b: want[b] or 0)
        boards = [ODD, "pi5"]
        assert [bool(best) for best, _, _ in links] == [b == fastest for b in boards]
        assert [text for _, _, text in links] == [fmt_seconds(want[b]) for b in boards]
