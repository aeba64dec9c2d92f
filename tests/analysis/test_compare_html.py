"""`compare --html` and the site's run-vs-previous pages, read back with an HTML parser from a real SQLite
store holding a run shifted by +10 % on a different kernel."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner
from test_analysis_cli import three_runs

from benchbench.cli.compare import compare
from benchbench.report.site import publish
from benchbench.results.store import Store


class Tables(HTMLParser):
    """Cell texts of every table by id, plus every tag name and link seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: set[str] = set()
        self.links: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(html: str) -> Tables:
    p = Tables()
    p.feed(html)
    return p


def test_compare_html_shows_verdicts_gates_and_environment(tmp_path: Path) -> None:
    db = three_runs(tmp_path, slow="slow<&>")
    out = tmp_path / "cmp.html"
    res = CliRunner().invoke(compare, ["a", "slow<&>", "--db", db, "--fail-on", "latency.p50:+5%",
                                       "--json", "--html", str(out)])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    html = out.read_text()
    page = _parse(html)
    assert "script" not in page.tags and not any("://" in x for x in page.links)
    assert "slow&lt;&amp;&gt;" in html and "slow<&>" not in html  # autoescaped
    rows = {r[1]: r for r in page.tables["compare-table"][1:]}
    assert set(rows) == {r["metric"] for r in doc["rows"]}
    lat = rows["latency.p50"]
    want = next(r for r in doc["rows"] if r["metric"] == "latency.p50")
    assert lat[4] == f"{want['rel_change']:+.1%}" and lat[5] == "mannwhitneyu" and lat[7] == "worse"
    assert rows["energy_per_inference"][7] == "no change" and rows["energy_per_inference"][5] == "none"
    (gate,) = page.tables["gates-table"][1:]
    assert gate[0] == "latency.p50:+5%" and gate[2] == "TRIPPED"
    assert ["pi5", "kernel", "6.6.51", "6.6.60"] in page.tables["env-table"]

    same = CliRunner().invoke(compare, ["a", "same", "--db", db, "--fail-on", "latency.p50:+5%",
                                        "--html", str(out)])
    assert same.exit_code == 0, same.output
    page = _parse(out.read_text())
    assert page.tables["gates-table"][1][2] == "ok"
    assert {r[7] for r in page.tables["compare-table"][1:]} == {"no change"}
    assert "env-table" not in page.tables  # same kernel and runtimes: nothing to list


def test_site_links_each_run_to_its_comparison_with_the_previous_one(tmp_path: Path) -> None:
    db = three_runs(tmp_path, slow="slow<&>")
    www = tmp_path / "www"
    first = publish(Store(db), www)
    assert {"runs/same-vs-a.html"} <= set(first.written)
    index = _parse((www / "index.html").read_text())
    cmp_links = sorted(x for x in index.links if "-vs-" in x)
    assert len(cmp_links) == 2 and "runs/same-vs-a.html" in cmp_links
    slow = next(x for x in cmp_links if x != "runs/same-vs-a.html")
    page = _parse((www / slow).read_text())
    lat = next(r for r in page.tables["compare-table"][1:] if r[1] == "latency.p50")
    assert lat[7] == "worse"  # slow vs same: +10 %
    assert ["pi5", "kernel", "6.6.51", "6.6.60"] in page.tables["env-table"]
    for link in page.links:
        assert (www / "runs" / link).resolve().is_file(), link
    again = publish(Store(db), www)  # incremental: nothing re-rendered, nothing rewritten
    assert again.written == [] and slow in again.unchanged
