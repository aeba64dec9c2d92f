"""The bad-input table for test_bad_input_table.py: (id, files to write, argv, fragments, xfail reason).

Files are written into the case's directory; ``{d}`` in argv is that directory, ``{db}`` the seeded results
database, ``{run}`` its stored run. Every fragment must appear in the one error line (the file and the key
or flag it names, and the gist of the problem).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

GOOD_JOB = ("jobs:\n  - workload: gemm\n    backend: numpy\n    precisions: [fp32]\n"
            "    params: {m: 8, k: 8, n: 8}\n")
GOOD_TIMING = "timing: {warmup_s: 0.01, min_value_s: 0.001, rounds: 2, values_per_round: 3, max_timed_s: 1}\n"


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    fragments: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    xfail: str | None = None


CASES: list[Case] = []


def add(id: str, argv: tuple[str, ...], fragments: tuple[str, ...],
        files: dict[str, str | bytes] | None = None, xfail: str | None = None) -> None:
    CASES.append(Case(id, argv, fragments, files or {}, xfail))


# -- suites -----------------------------------------------------------------------------------------------
def suite(id: str, text: str | bytes, *fragments: str, xfail: str | None = None) -> None:
    add(f"suite-{id}", ("run", "--suite", "{d}/s.yaml", "--db", "{db}", "--no-report"),
        ("s.yaml", *fragments), {"s.yaml": text}, xfail)


def job(**kv: str) -> str:
    body = "".join(f"    {k}: {v}\n" for k, v in kv.items())
    return "name: x\n" + GOOD_TIMING + "jobs:\n  - workload: gemm\n" + body


suite("non-utf8", b"name: \xff\xfe\n" + GOOD_JOB.encode(), "not UTF-8")
suite("latin1", "name: caf\xe9\n".encode("latin-1") + GOOD_JOB.encode(), "not UTF-8")
suite("binary", b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary")
suite("utf16", "name: x\n".encode("utf-16"), "binary")
suite("dup-top-key", "name: x\nname: y\n" + GOOD_JOB, "duplicate key 'name'")
suite("dup-job-key", "name: x\njobs:\n  - workload: gemm\n    workload: triad\n", "duplicate key 'workload'")
suite("dup-param-key", "name: x\njobs:\n  - workload: gemm\n    params: {m: 1, m: 2}\n", "duplicate key 'm'")
laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh"))
suite("billion-laughs", laughs, "expands to more than")
suite("too-big", "name: x\n" + "# " + "x" * (1 << 20) + "\n" + GOOD_JOB, "larger than")
suite("top-list", "- workload: gemm\n", "expected a mapping")
suite("top-scalar", "just text\n", "expected a mapping")
suite("empty-jobs", "name: x\njobs: []\n", "jobs")
suite("no-jobs", "name: x\n", "jobs", "Field required")
suite("no-name", GOOD_JOB, "name", "Field required")
suite("empty-name", "name: ''\n" + GOOD_JOB, "name")
suite("name-list", "name: [1]\n" + GOOD_JOB, "name")
suite("unknown-top", "name: x\nsizes: 3\n" + GOOD_JOB, "sizes", "unknown key")
suite("malformed", "name: x\njobs: [\n", "malformed YAML", "line")
suite("tab-indent", "name: x\njobs:\n\t- workload: gemm\n", "malformed YAML")
suite("mapping-key", "? [a, b]\n: 1\nname: x\n" + GOOD_JOB, "scalar")
suite("unknown-anchor", "name: *nope\n" + GOOD_JOB, "malformed YAML")
for fld, val, frag in [("warmup_s", ".inf", "non-finite"), ("warmup_s", "-.inf", "non-finite"),
                       ("warmup_s", ".nan", "non-finite"), ("warmup_s", "1e400", "finite"),
                       ("warmup_s", "-1", "greater than or equal"), ("warmup_s", "1e9", "less than"),
                       ("warmup_s", "soon", "valid number"),
                       ("rounds", "1000000000000", "less than"), ("rounds", "0", "greater than"),
                       ("rounds", "true", "valid integer"), ("rounds", "2.5", "integer"),
                       ("rounds", "[1, 2]", "integer"), ("rounds", "1e12", "integer"),
                       ("values_per_round", "0", "greater than"), ("values_per_round", "-3", "greater than"),
                       ("values_per_round", "false", "valid integer"),
                       ("min_value_s", "0", "greater than"), ("min_value_s", "-0.5", "greater than"),
                       ("min_value_s", ".nan", "non-finite"), ("min_value_s", "1e5", "less than"),
                       ("max_timed_s", "0", "greater than"), ("max_timed_s", ".inf", "non-finite"),
                       ("max_timed_s", "1e9", "less than"), ("warmup_min_iters", "0", "greater than"),
                       ("warmup_min_iters", "1e99", "integer"), ("disable_gc", "maybe", "valid boolean"),
                       ("round", "3", "unknown key")]:
    suite(f"timing-{fld}-{val}", f"name: x\ntiming: {{{fld}: {val}}}\n" + GOOD_JOB, f"timing.{fld}", frag)
suite("timing-over-budget", "name: x\ntiming: {rounds: 1000, min_value_s: 1, max_timed_s: 10}\n" + GOOD_JOB,
      "timing", "exceeds max_timed_s")
suite("timing-list", "name: x\ntiming: [1, 2]\n" + GOOD_JOB, "timing")
suite("sampling-interval-0", "name: x\nsampling: {interval_s: 0}\n" + GOOD_JOB, "sampling.interval_s")
suite("sampling-interval-inf", "name: x\nsampling: {interval_s: .inf}\n" + GOOD_JOB, "sampling.interval_s")
suite("sampling-family", "name: x\nsampling: {families: [warp]}\n" + GOOD_JOB, "sampling.families",
      "unknown sampler family")
suite("sampling-family-str", "name: x\nsampling: {families: cpufreq}\n" + GOOD_JOB, "sampling.families")
suite("sampling-unknown", "name: x\nsampling: {rate: 3}\n" + GOOD_JOB, "sampling.rate", "unknown key")
suite("job-scalar", "name: x\njobs:\n  - gemm\n", "jobs[0]")
suite("job-no-workload", "name: x\njobs:\n  - precisions: [fp32]\n", "jobs[0].workload")
suite("job-empty-workload", "name: x\njobs:\n  - workload: ''\n", "jobs[0].workload")
suite("unknown-workload", "name: x\njobs:\n  - workload: warp_drive\n", "jobs[0].workload",
      "unknown workload")
# a backend whose expander takes every entry of it (torch, llama.cpp) still reports the workload
suite("unknown-workload-torch", "name: x\njobs:\n  - workload: mobilenetv3\n    backend: torch\n",
      "jobs[0].workload", "unknown workload 'mobilenetv3'")
suite("kernel-on-torch", job(backend="torch", precisions="[fp32]", params="{m: 8, k: 8, n: 8}"),
      "jobs[0].workload", "backend torch runs", "not 'gemm'")
suite("unknown-workload-llamacpp", "name: x\njobs:\n  - workload: llama9\n    backend: llama.cpp\n",
      "jobs[0].workload", "unknown workload 'llama9'")
# one job key at a time: key → [(case, value, the path the error names below jobs[0].key, the gist)]
JOB_KEY_CASES = {
    "backend": [("unknown-backend", "cuda-magic", "", "unknown backend")],
    "precisions": [("precisions-empty", "[]", ""), ("precisions-str", "fp32", "", "valid list"),
                   ("precision-unknown", "[int4]", "[0]", "does not apply")],
    "pruning": [("pruning-empty", "[]", ""), ("pruning-kernel", "[50%]", "", "does not apply")],
    "params": [("params-list", "[1, 2]", ""), ("param-bool", "{n: true}", ".n", "valid integer"),
               ("param-bool-sweep", "{n: [8, true]}", ".n", "valid integer"),
               ("param-negative", "{m: -4}", ".m", "greater than 0"),
               ("param-zero", "{k: 0}", ".k", "greater than 0"),
               ("param-word", "{k: big}", ".k", "valid integer"),
               ("param-float-str", "{m: 1e8}", ".m", "valid integer"),
               ("param-nan", "{m: .nan}", "", "non-finite"), ("param-inf", "{m: .inf}", "", "non-finite"),
               ("param-unknown", "{zzz: 1}", ".zzz", "unknown key"), ("param-null", "{m: null}", ".m"),
               ("param-huge-gemm", "{m: 100000000, k: 100000000, n: 100000000}", ".m", "less than or equal"),
               ("param-gemm-too-much-memory", "{m: 1000000, k: 1000000, n: 8}", "", "GiB")],
    "timeout_s": [("timeout-0", "0", "", "greater than"), ("timeout-inf", ".inf", "", "non-finite"),
                  ("timeout-huge", "1e12", "", "less than")],
    "seed": [("seed-negative", "-1", "", "greater than"), ("seed-float", "1.5", "", "integer")],
    "timing": [("job-timing-rounds", "{rounds: 0}", ".rounds", "greater than"),
               ("job-timing-nan", "{warmup_s: .nan}", ".warmup_s", "non-finite"),
               ("job-timing-budget", "{rounds: 100, min_value_s: 1, max_timed_s: 5}", "",
                "exceeds max_timed_s")],
    "sizes": [("job-unknown-key", "{m: 1}", "", "unknown key")],
}
for key, cases in JOB_KEY_CASES.items():
    for id, val, where, *gist in cases:
        suite(id, job(**{key: val}), f"jobs[0].{key}{where}", *gist)
suite("busy-huge", "name: x\njobs:\n  - workload: busy\n    params: {n: 100000000000000000000000000}\n",
      "jobs[0].params.n", "less than or equal")
sweep = "[" + ", ".join(str(i) for i in range(1, 1001)) + "]"
suite("job-cap", f"name: x\njobs:\n  - workload: gemm\n    params: {{m: {sweep}, k: {sweep}, n: {sweep}}}\n",
      "jobs", "max_jobs")
suite("job-cap-own", "name: x\nmax_jobs: 5\njobs:\n  - workload: gemm\n    precisions: [fp32]\n"
      "    params: {m: [1, 2, 3, 4, 5, 6]}\n", "jobs", "max_jobs = 5")
suite("max-jobs-zero", "name: x\nmax_jobs: 0\n" + GOOD_JOB, "max_jobs", "greater than")
suite("description-int", "name: x\ndescription: [1]\n" + GOOD_JOB, "description")
add("suite-missing", ("run", "--suite", "{d}/nope.yaml", "--db", "{db}"), ("nope.yaml", "file not found"))
add("suite-directory", ("run", "--suite", "{d}/dir.yaml", "--db", "{db}"), ("dir.yaml", "directory"),
    {"dir.yaml/keep": "x"})
add("suite-unknown-name", ("run", "--suite", "warp", "--db", "{db}"), ("--suite", "warp"))

# -- fleets -----------------------------------------------------------------------------------------------
BOARD = "boards:\n  - name: b1\n    host: 127.0.0.1\n    port: 1\n"


def fleet(id: str, text: str | bytes, *fragments: str, extra: dict[str, str | bytes] | None = None,
          argv: tuple[str, ...] = (), xfail: str | None = None) -> None:
    add(f"fleet-{id}", ("run", "--suite", "{d}/ok.yaml", "--fleet", "{d}/f.yaml", "--db", "{db}",
                        "--no-report",
                        *argv), fragments, {"f.yaml": text, "ok.yaml": "name: ok\n" + GOOD_TIMING + GOOD_JOB,
                                            **(extra or {})}, xfail)


fleet("non-utf8", b"boards:\n  - name: \xff\n    host: h\n", "f.yaml", "not UTF-8")
fleet("binary", b"\x00\x01\x02binary", "f.yaml", "binary")
fleet("dup-key", "boards:\n  - name: a\n    name: b\n    host: h\n", "f.yaml", "duplicate key 'name'")
fleet("dup-board", BOARD + "  - name: b1\n    host: h2\n", "f.yaml", "appears twice")
fleet("no-boards", "known_hosts: kh\n", "f.yaml", "boards")
fleet("empty-boards", "boards: []\n", "f.yaml", "boards")
fleet("no-host", "boards:\n  - name: b1\n", "f.yaml", "boards[0].host")
fleet("port-0", "boards:\n  - {name: b1, host: h, port: 0}\n", "f.yaml", "boards[0].port")
fleet("port-big", "boards:\n  - {name: b1, host: h, port: 70000}\n", "f.yaml", "boards[0].port")
fleet("port-word", "boards:\n  - {name: b1, host: h, port: ssh}\n", "f.yaml", "boards[0].port")
fleet("port-bool", "boards:\n  - {name: b1, host: h, port: true}\n", "f.yaml", "boards[0].port")
fleet("port-inf", "boards:\n  - {name: b1, host: h, port: .inf}\n", "f.yaml", "boards[0].port", "non-finite")
fleet("name-slash", "boards:\n  - {name: a/b, host: h}\n", "f.yaml", "boards[0].name")
fleet("name-dotdot", "boards:\n  - {name: '..', host: h}\n", "f.yaml", "boards[0].name")
fleet("name-newline", "boards:\n  - {name: \"a\\nb\", host: h}\n", "f.yaml", "boards[0].name", "control")
fleet("name-escape", "boards:\n  - {name: \"a\\e[2Jb\", host: h}\n", "f.yaml", "boards[0].name", "control")
fleet("host-empty", "boards:\n  - {name: b1, host: ''}\n", "f.yaml", "boards[0].host")
fleet("user-empty", "boards:\n  - {name: b1, host: h, user: ''}\n", "f.yaml", "boards[0].user")
fleet("work-dir-ctrl", "boards:\n  - {name: b1, host: h, work_dir: \"/tmp/\\tx\"}\n", "f.yaml",
      "boards[0].work_dir")
fleet("tag-comma", "boards:\n  - {name: b1, host: h, tags: ['a,b']}\n", "f.yaml", "boards[0].tags")
fleet("unknown-key", "boards:\n  - {name: b1, host: h, passwd: x}\n", "f.yaml", "boards[0].passwd",
      "unknown key")
fleet("top-unknown", "hosts: []\n" + BOARD, "f.yaml", "hosts", "unknown key")
fleet("board-scalar", "boards:\n  - b1\n", "f.yaml", "boards[0]")
fleet("top-list", "- name: b1\n", "f.yaml", "expected a mapping")
fleet("malformed", "boards: [\n", "f.yaml", "malformed YAML")
fleet("unknown-profile", "boards:\n  - {name: b1, host: h, profile: warp9}\n", "f.yaml", "boards[0].profile",
      "b1", "warp9")
fleet("unknown-board-sel", BOARD, "--boards", "nope", argv=("--boards", "nope"))
fleet("known-hosts-binary", "known_hosts: kh\n" + BOARD, "kh", extra={"kh": b"\xff\xfe\x00\x01"})
fleet("known-hosts-base64", "known_hosts: kh\n" + BOARD, "kh", "line 1",
      extra={"kh": "[127.0.0.1]:1 ssh-ed25519 !!!notbase64\n"})
fleet("ssh-config-garbage", BOARD, "sc", "not an OpenSSH client config", extra={"sc": "=== ===\n"},
      argv=("--ssh-config", "{d}/sc"))
fleet("ssh-config-binary", BOARD, "sc", extra={"sc": b"\xff\x00\x01"}, argv=("--ssh-config", "{d}/sc"))
fleet("ssh-config-missing", BOARD, "nope-config", "--ssh-config", argv=("--ssh-config", "{d}/nope-config"))
fleet("ssh-config-bad-port", "boards:\n  - {name: b1, host: alias1}\n", "sc", "Port",
      extra={"sc": "Host alias1\n  Port abc\n"}, argv=("--ssh-config", "{d}/sc"))
add("fleet-missing", ("run", "--fleet", "{d}/nope.yaml", "--db", "{db}"), ("nope.yaml", "file not found"))
add("boards-without-fleet", ("run", "--boards", "b1", "--db", "{db}"), ("--boards", "--fleet"))

# -- databases --------------------------------------------------------------------------------------------
for scheme, frag in [("mysql://u:pw@127.0.0.1/db", "driver"), ("oracle://u:pw@127.0.0.1/db", "driver"),
                     ("postgresql+asyncpg://u:pw@127.0.0.1/db", "asyncio"), ("warpdb://x", "warpdb"),
                     ("postgresql://u:pw@h:notaport/db", "cannot open")]:
    for cmd in (("report", "--list"), ("run", "--suite", "{d}/ok.yaml", "--no-report")):
        add(f"db-{scheme.split(':')[0]}-{cmd[0]}", (*cmd, "--db", scheme),
            ("cannot open results database", frag), {"ok.yaml": "name: ok\n" + GOOD_TIMING + GOOD_JOB})
for cmd in (("report",), ("report", "--list"), ("compare", "a", "b"), ("history",), ("export",),
            ("publish", "--out", "{d}/site")):
    add(f"db-missing-{cmd[0]}{len(cmd)}", (*cmd, "--db", "{d}/missing.db"),
        ("missing.db", "no results database"))
    add(f"db-foreign-{cmd[0]}{len(cmd)}", (*cmd, "--db", "{d}/foreign.db"),
        ("foreign.db", "not a benchbench"), {"foreign.db": "@foreign"})
add("db-foreign-run", ("run", "--suite", "{d}/ok.yaml", "--db", "{d}/foreign.db"),
    ("foreign.db", "not a benchbench", "runs"), {"foreign.db": "@foreign",
                                                 "ok.yaml": "name: ok\n" + GOOD_JOB})
add("db-foreign-import", ("import", "pytest-benchmark", "{d}/pb.json", "--board", "b", "--db",
                          "{d}/foreign.db"),
    ("foreign.db", "not a benchbench"), {"foreign.db": "@foreign", "pb.json": "@pb"})
add("db-text-file", ("report", "--list", "--db", "{d}/notes.txt"), ("notes.txt",),
    {"notes.txt": "these are my notes, not a database\n" * 200})
add("db-empty-file", ("report", "--list", "--db", "{d}/empty.db"), ("empty.db", "empty database"),
    {"empty.db": b""})
add("db-unwritable", ("run", "--suite", "{d}/ok.yaml", "--db", "/proc/nonexistent/dir/x.db"),
    ("/proc/nonexistent/dir/x.db", "cannot open results database"), {"ok.yaml": "name: ok\n" + GOOD_JOB})

# -- report / compare / history / export / publish flags ----------------------------------------------------
add("report-unknown-run", ("report", "--db", "{db}", "--run", "no-such-run"), ("no run 'no-such-run'",))
add("report-traversal-run", ("report", "--db", "{db}", "--run", "../../etc/x"), ("no run '../../etc/x'",))
add("report-template-syntax", ("report", "--db", "{db}", "--templates", "{d}/tpl", "-o", "{d}/r.html"),
    ("report.html.j2", "line 2", "template syntax error"), {"tpl/report.html.j2": "<html>\n{% if %}\n"})
add("report-template-undefined", ("report", "--db", "{db}", "--templates", "{d}/tpl", "-o", "{d}/r.html"),
    ("--templates", "template error"), {"tpl/report.html.j2": "{{ nope.attr }}\n"})
add("report-templates-missing", ("report", "--db", "{db}", "--templates", "{d}/nope"), ("--templates",))
add("report-unknown-option", ("report", "--db", "{db}", "--colour"), ("--colour",))
add("compare-unknown-a", ("compare", "nope", "{run}", "--db", "{db}"), ("no run 'nope'",))
add("compare-unknown-b", ("compare", "{run}", "nope", "--db", "{db}"), ("no run 'nope'",))
add("compare-missing-arg", ("compare", "{run}", "--db", "{db}"), ("RUN_B",))
add("compare-bad-gate", ("compare", "{run}", "{run}", "--db", "{db}", "--fail-on", "speed"), ("--fail-on",))
add("compare-bad-gate-metric", ("compare", "{run}", "{run}", "--db", "{db}", "--fail-on", "warp.p50:+5%"),
    ("warp.p50",))
add("compare-no-common-job", ("compare", "{run}", "{other}", "--db", "{db}", "--fail-on", "latency.p50:+5%"),
    ("--fail-on", "no job in common"))
add("compare-alpha", ("compare", "{run}", "{run}", "--db", "{db}", "--alpha", "2"), ("--alpha",))
add("compare-alpha-word", ("compare", "{run}", "{run}", "--db", "{db}", "--alpha", "low"), ("--alpha",))
add("compare-min-change", ("compare", "{run}", "{run}", "--db", "{db}", "--min-change", "-1"),
    ("--min-change",))
add("compare-html-dir", ("compare", "{run}", "{run}", "--db", "{db}", "--html", "{d}"), ("--html",))
add("history-bad-metric", ("history", "--db", "{db}", "--metric", "warp"), ("--metric", "warp"))
add("export-bad-format", ("export", "--db", "{db}", "--format", "xlsx"), ("--format", "xlsx"))
add("export-output-dir", ("export", "--db", "{db}", "-o", "{d}"), ("--output",))
add("publish-no-out", ("publish", "--db", "{db}"), ("--out",))
add("publish-workers-0", ("publish", "--db", "{db}", "--out", "{d}/site", "--workers", "0"), ("--workers",))
add("publish-out-is-file", ("publish", "--db", "{db}", "--out", "{d}/f.txt"), ("--out", "f.txt"),
    {"f.txt": "x"})
add("publish-template-syntax", ("publish", "--db", "{db}", "--out", "{d}/site", "--templates", "{d}/tpl",
                                "--workers", "1"),
    ("site_index.html.j2", "template syntax error"), {"tpl/site_index.html.j2": "{% for %}\n"})
add("unknown-command", ("warp",), ("warp",))

# -- import pytest-benchmark --------------------------------------------------------------------------------
PB_OK = {"machine_info": {"node": "n", "cpu": {"brand_raw": "c"}}, "commit_info": {}, "version": "4.0.0",
         "datetime": "2024-01-01T00:00:00", "benchmarks": [
             {"name": "test_a", "fullname": "t.py::test_a", "params": None, "group": None, "extra_info": {},
              "options": {}, "stats": {"min": 0.001, "max": 0.002, "mean": 0.0015, "stddev": 0.0001,
                                       "median": 0.0015, "rounds": 3, "iterations": 1,
                                       "data": [0.001, 0.0015, 0.002]}}]}


def pb(id: str, doc: object, *fragments: str, argv: tuple[str, ...] = ()) -> None:
    text = doc if isinstance(doc, (str, bytes)) else json.dumps(doc)
    add(f"import-{id}", ("import", "pytest-benchmark", "{d}/pb.json", "--board", "b", "--db", "{db}", *argv),
        fragments if argv else ("pb.json", *fragments), {"pb.json": text})


def pb_with(path: str, value: object) -> dict[str, object]:
    doc = json.loads(json.dumps(PB_OK))
    target: dict[str, object] = doc
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]  # type: ignore[index,assignment]
    target[keys[-1]] = value
    return doc


pb("not-json", "this is not json", "malformed JSON")
pb("non-utf8", b'{"benchmarks": ["\xff"]}', "not UTF-8")
pb("binary", b"\x00\x01\x02", "binary")
pb("nan-constant", '{"benchmarks": [], "x": NaN}', "non-finite")
pb("infinity", '{"benchmarks": [], "x": -Infinity}', "non-finite")
pb("huge-number", '{"benchmarks": [], "x": 1e400}', "non-finite")
pb("dup-key", '{"benchmarks": [], "benchmarks": []}', "duplicate key 'benchmarks'")
pb("no-benchmarks", {"machine_info": {}}, "benchmarks")
pb("benchmarks-dict", {"benchmarks": {}}, "benchmarks")
pb("top-list", [1, 2], "benchmarks")
pb("bench-scalar", {"benchmarks": [3]}, "benchmarks[0]")
pb("no-name", pb_with("benchmarks.0.name", None), "benchmarks[0].name")
pb("name-int", pb_with("benchmarks.0.name", 5), "benchmarks[0].name")
pb("fullname-list", pb_with("benchmarks.0.fullname", [1]), "benchmarks[0].fullname")
pb("no-stats", pb_with("benchmarks.0.stats", None), "benchmarks[0].stats")
pb("stats-list", pb_with("benchmarks.0.stats", [1]), "benchmarks[0].stats")
pb("data-strings", pb_with("benchmarks.0.stats.data", ["fast", "slow"]), "benchmarks[0].stats.data[0]")
pb("data-nulls", pb_with("benchmarks.0.stats.data", [None, None]), "benchmarks[0].stats.data[0]")
pb("data-zeros", pb_with("benchmarks.0.stats.data", [0, 0, 0]), "benchmarks[0].stats.data[0]")
pb("data-negative", pb_with("benchmarks.0.stats.data", [0.001, -0.002]), "benchmarks[0].stats.data[1]")
pb("data-bools", pb_with("benchmarks.0.stats.data", [True]), "benchmarks[0].stats.data[0]")
pb("data-dict", pb_with("benchmarks.0.stats.data", {"a": 1}), "benchmarks[0].stats.data")
pb("median-string", pb_with("benchmarks.0.stats.median", "fast"), "benchmarks[0].stats.median")
pb("min-negative", pb_with("benchmarks.0.stats.min", -1), "benchmarks[0].stats.min")
pb("machine-info-str", pb_with("machine_info", "my laptop"), "machine_info")
pb("commit-info-list", pb_with("commit_info", [1]), "commit_info")
pb("params-list", pb_with("benchmarks.0.params", [1, 2]), "benchmarks[0].params")
pb("extra-info-str", pb_with("benchmarks.0.extra_info", "x"), "benchmarks[0].extra_info")
pb("run-traversal", PB_OK, "--run", argv=("--run", "../../x"))
pb("run-absolute", PB_OK, "--run", argv=("--run", "/tmp/evil"))
pb("run-empty", PB_OK, "--run", argv=("--run", ""))
pb("run-newline", PB_OK, "--run", argv=("--run", "a\nb"))
pb("run-existing", PB_OK, "--run", "already stored", argv=("--run", "{run}"))
pb("run-existing-import", PB_OK, "--run", "already stored", argv=("--run", "{other}"))
pb("board-empty", PB_OK, "--board", argv=("--board", ""))
add("import-missing-file", ("import", "pytest-benchmark", "{d}/nope.json", "--board", "b", "--db", "{db}"),
    ("nope.json", "file not found"))
add("import-no-board", ("import", "pytest-benchmark", "{d}/pb.json", "--db", "{db}"), ("--board",),
    {"pb.json": json.dumps(PB_OK)})

# -- resume -----------------------------------------------------------------------------------------------
add("resume-traversal", ("run", "--resume", "../../x", "--db", "{db}"), ("--resume", "invalid run id"))
add("resume-absolute", ("run", "--resume", "/etc/passwd", "--db", "{db}"), ("--resume", "invalid run id"))
add("resume-unknown", ("run", "--resume", "nope-123", "--db", "{db}"), ("no run 'nope-123'",))
add("resume-with-suite", ("run", "--resume", "{run}", "--suite", "quick", "--db", "{db}"),
    ("--resume", "--suite"))
add("resume-with-model", ("run", "--resume", "{run}", "--model", "{d}/m.onnx", "--db", "{db}"),
    ("--resume", "--model"), {"m.onnx": b"\x08\x07"})
add("resume-control-chars", ("run", "--resume", "a\x1b[2Jb", "--db", "{db}"), ("--resume",))

# -- bring-your-own model flags ---------------------------------------------------------------------------
add("model-missing", ("run", "--model", "{d}/nope.onnx", "--db", "{db}"), ("nope.onnx",))
add("model-text", ("run", "--model", "{d}/m.onnx", "--db", "{db}"), ("m.onnx",), {"m.onnx": "not a model\n"})
add("model-with-suite", ("run", "--model", "{d}/m.onnx", "--suite", "quick", "--db", "{db}"), ("--model",),
    {"m.onnx": "x"})
add("shape-without-model", ("run", "--shape", "x=1x3", "--db", "{db}"), ("--model",))
add("precision-without-model", ("run", "--precision", "fp16", "--db", "{db}"), ("--model",))
add("model-shape-zero", ("run", "--model", "{model}", "--shape", "x=0x8", "--db", "{db}"), ("--shape",))
add("model-shape-garbage", ("run", "--model", "{model}", "--shape", "x=axb", "--db", "{db}"), ("--shape",))
add("model-shape-no-name", ("run", "--model", "{model}", "--shape", "1x8", "--db", "{db}"), ("--shape",))
add("model-shape-unknown-input", ("run", "--model", "{model}", "--shape", "nope=1x8", "--db", "{db}"),
    ("--shape", "nope"))
add("model-shape-fixed-dim", ("run", "--model", "{model}", "--shape", "x=2x9", "--db", "{db}"), ("--shape",))
add("model-precision-unknown", ("run", "--model", "{model}", "--precision", "fp3", "--db", "{db}"),
    ("--precision", "fp3"))
add("model-inputs-text", ("run", "--model", "{model}", "--shape", "x=1x8", "--inputs", "{d}/in.npz", "--db",
                          "{db}"),
    ("--inputs", "in.npz"), {"in.npz": "hello, not numpy\n"})
add("model-input-garbage", ("run", "--model", "{model}", "--input", "novalue", "--db", "{db}"), ("--input",))
