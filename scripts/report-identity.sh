#!/usr/bin/env bash
# Renders every store-derived output of one results DB (each run's report, compare JSON/HTML/text of the
# two oldest runs by started_at, history JSON, exports, the published site) with the code at REV and with
# this working tree, and lists the files that differ (render timestamps masked). For refactors that must not
# change what users see. The DB is copied (SQLite's backup API, so a -wal file's commits come along), never
# written.
#   scripts/report-identity.sh REV DB [WORKDIR]        exit 0: identical, 1: differences listed
set -euo pipefail
rev=$1; db=$(realpath "$2"); work=${3:-$(mktemp -d)}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
git -C "$root" worktree add -f --detach "$work/code-old" "$rev" >/dev/null 2>&1 \
  || git -C "$work/code-old" checkout -q --detach "$rev"
trap 'git -C "$root" worktree remove --force "$work/code-old" >/dev/null 2>&1 || true' EXIT

render() {  # render CODE_DIR OUT_DIR
  local code=$1 out=$2 copy runs
  rm -rf "$out"; mkdir -p "$out"; copy="$out/.db.sqlite"
  python - "$db" "$copy" <<'PY'
import sqlite3, sys, urllib.parse
src = sqlite3.connect("file:" + urllib.parse.quote(sys.argv[1]) + "?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, whatever the source's mode
dst.close(); src.close()
PY
  ( cd "$out" && export PYTHONPATH="$code"
    runs=$(python -m benchbench report --db "$copy" --list --json | python -c \
      "import json,sys; rs=sorted(json.load(sys.stdin), key=lambda r: (r['started_at'], r['run_id']))
print(' '.join(r['run_id'] for r in rs))")
    for r in $runs; do python -m benchbench report --db "$copy" --run "$r" -o "report-$r.html" >/dev/null; done
    set -- $runs
    if [ $# -ge 2 ]; then
      python -m benchbench compare "$1" "$2" --db "$copy" --json > compare.json 2>&1 || true
      python -m benchbench compare "$1" "$2" --db "$copy" --html compare.html > compare.txt 2>&1 || true
    fi
    python -m benchbench history --db "$copy" --json > history.json 2>&1 || true
    python -m benchbench publish --db "$copy" --out site --workers 1 >/dev/null
    python -m benchbench export --db "$copy" --format json -o export.json >/dev/null
    python -m benchbench export --db "$copy" --format csv -o export.csv >/dev/null )
  rm -f "$copy" "$copy-wal" "$copy-shm"
}

render "$work/code-old" "$work/old"
render "$root" "$work/new"
mask() { sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?( ?UTC|Z|\+00:00)?/<TIME>/g' "$1"; }
rc=0
while read -r f; do
  if [ ! -e "$work/new/$f" ]; then echo "only old: $f"; rc=1
  elif ! cmp -s "$work/old/$f" "$work/new/$f" && ! cmp -s <(mask "$work/old/$f") <(mask "$work/new/$f"); then
    echo "differs: $f"; rc=1
  fi
done < <(cd "$work/old" && find . -type f | sort)
while read -r f; do [ -e "$work/old/$f" ] || { echo "only new: $f"; rc=1; }; done < <(cd "$work/new" && find . -type f | sort)
echo "outputs under $work/old and $work/new"
exit $rc
