"""Fetch the PDFs of the page-retrieval benchmark from Debian packages.

Usage: python benchmarks/pages/fetch.py DEST

Downloads each package listed in documents.json with `apt-get download PKG=VERSION` (or the
current PKG version, with a warning, when that exact version is gone) into DEST/debs, unpacks
it with `dpkg -x` into DEST/unpacked/PKG and writes the PDF to DEST/pdfs/<doc>.pdf. A sha256
different from documents.json is only a warning: a new Debian version may move the pages the
questions point at. Work already done is skipped. Standard library only.
"""

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(package: str, version: str, debs: Path) -> Path:
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    cmd = ["apt-get", "download", f"{package}={version}"]
    if subprocess.run(cmd, cwd=debs).returncode != 0:
        print(f"WARNING: {package}={version} not available, downloading current {package}")
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        sys.exit(f"no .deb for {package} in {debs} (try: apt-get update)")
    return found[-1]


def fetch(doc: dict, dest: Path) -> Path:
    out = dest / "pdfs" / f"{doc['doc']}.pdf"
    if out.exists() and sha256(out) == doc["sha256"]:
        print(f"{doc['doc']}: already there")
        return out
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb = download(doc["package"], doc["version"], debs)
    unpacked = dest / "unpacked" / doc["package"]
    member = unpacked / doc["member"]
    if not member.exists():
        unpacked.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg", "-x", str(deb), str(unpacked)], check=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if doc["member"].endswith(".gz") else open
    with opener(member, "rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    digest = sha256(out)
    if digest != doc["sha256"]:
        print(f"WARNING: {out} sha256 {digest} differs from documents.json ({deb.name});")
        print("         page numbers in questions.jsonl may no longer match")
    else:
        print(f"{doc['doc']}: {out} ok")
    return out


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    dest = Path(sys.argv[1]).resolve()
    for doc in json.loads((HERE / "documents.json").read_text()):
        fetch(doc, dest)
    shutil.copyfile(HERE / "questions.jsonl", dest / "questions.jsonl")  # a self-contained set


if __name__ == "__main__":
    main()
