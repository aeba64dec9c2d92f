"""Board side of the content-addressed deploy: one JSON request in argv[1], one JSON reply on stdout.

Ops: ``inspect`` (make the work dir 0700, refuse or tighten a dir other users can write, drop stale partial
uploads, report which files are missing or differ and the free disk), ``commit`` (verify each staged file's
sha256, rename the good ones into place, delete the bad), ``discard`` and ``rundir`` (a 0700 run directory).
"""

import hashlib
import json
import os
import sys
import time
from typing import Any, Dict, List, Union


def sha256_file(path: "Union[str, os.PathLike[str]]") -> str:
    """The one file hash of the project: the controller imports it too (stdlib only, so it may)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rm(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def inspect(req: Dict[str, Any]) -> Dict[str, Any]:
    d = os.path.abspath(os.path.expanduser(req["dir"]))
    os.makedirs(d, mode=0o700, exist_ok=True)
    st = os.stat(d)
    tightened = None
    if st.st_mode & 0o022:
        if st.st_uid != os.getuid() or st.st_mode & 0o1000:
            return {"refused": f"{d} is writable by other users (mode {st.st_mode & 0o7777:o}, "
                               f"owner uid {st.st_uid})"}
        os.chmod(d, st.st_mode & 0o755)
        tightened = "%o" % (st.st_mode & 0o7777)
    now = time.time()
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            if (".bbpart-" in n or ".bbstage-" in n) and now - os.lstat(p).st_mtime > req["stale_s"]:
                rm(p)
    missing: List[str] = []
    for name, (digest, size) in sorted(req["files"].items()):
        p = os.path.join(d, name)
        try:
            ok = os.path.getsize(p) == size and sha256_file(p) == digest
        except OSError:
            ok = False
        if not ok:
            missing.append(name)
            os.makedirs(os.path.dirname(p), mode=0o700, exist_ok=True)
    vfs = os.statvfs(d)
    return {"dir": d, "missing": missing, "free_bytes": vfs.f_bavail * vfs.f_frsize, "tightened": tightened}


def commit(req: Dict[str, Any]) -> Dict[str, Any]:
    bad: List[str] = []
    for staged, final, digest in req["items"]:
        try:
            good = sha256_file(staged) == digest
        except OSError:
            good = False
        if good:
            os.replace(staged, final)
        else:
            bad.append(os.path.basename(final))
            rm(staged)
    return {"bad": bad}


def rundir(req: Dict[str, Any]) -> Dict[str, Any]:
    parent = os.path.abspath(os.path.expanduser(req["parent"]))
    os.makedirs(parent, mode=0o700, exist_ok=True)
    p = os.path.join(parent, req["name"])
    try:
        os.mkdir(p, 0o700)
    except FileExistsError:
        pass
    os.chmod(p, 0o700)
    return {"dir": p}


def main(argv: List[str]) -> None:
    req = json.loads(argv[0])
    op = req["op"]
    out: Dict[str, Any] = {}
    if op == "inspect":
        out = inspect(req)
    elif op == "commit":
        out = commit(req)
    elif op == "discard":
        for p in req["paths"]:
            rm(p)
    elif op == "rundir":
        out = rundir(req)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
