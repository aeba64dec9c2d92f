"""``analysis`` stays pure statistics (#14.3): it reads plain values and records, never the agent protocol,
the ingest layer, the store or a transport; turning agent results into metrics is ``ingest``'s job."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "benchbench"
FORBIDDEN = ("benchbench.agent", "benchbench.ingest", "benchbench.results.store", "benchbench.transport",
             "benchbench.pipeline", "benchbench.deploy")


def test_analysis_imports_no_ingest_protocol_store_or_transport() -> None:
    bad = []
    for path in (ROOT / "analysis").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                mod = ("benchbench." if node.level else "") + (node.module or "") if node.level == 2 else \
                    ("benchbench.analysis." + (node.module or "") if node.level == 1 else node.module or "")
                names = [mod]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            bad += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert bad == []


def test_metric_building_lives_in_ingest() -> None:
    assert not (ROOT / "analysis" / "summary.py").exists()
    from benchbench.ingest.metrics import job_metrics, variant_metrics

    assert callable(job_metrics) and callable(variant_metrics)
