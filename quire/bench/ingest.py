"""`quire bench ingest DIR`: how fast Quire indexes a folder, against plain pipelines, side by side.

DIR is a folder of documents, or a BEIR folder (its corpus is written out as Markdown notes
first). Everything is measured in this one run, so the ratios compare like with like:

- PDF text extraction, pypdf against PDFium, on every PDF in DIR (pages/s, and how many of
  pypdf's words PDFium also finds);
- embedding the same chunk texts with plain sentence-transformers in fp32 against each of
  Quire's backends (torch bf16 where the CPU has it, ONNX Runtime fp32 and int8);
- whole ingests, each in a fresh process on a fresh home (so peak RSS is that ingest's):
  Quire as configured; the same without parsing ahead of the embedder; and the plain
  pipeline (pypdf, fp32, no parsing ahead). Then the same ingest again with nothing changed.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rag.errors import QuireError
from rag.settings import Settings

EMBED_SAMPLE = 2000  # chunk texts for the embedding comparison


def run_ingest_bench(
    folder: Path,
    settings: Settings,
    workdir: Path | None = None,
    plain: bool = True,
    log: Callable[[str], None] = lambda s: None,
    embedding_only: bool = False,
) -> dict:
    with tempfile.TemporaryDirectory(prefix="quire-bench-ingest-") as tmp:
        work = workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        docs = _documents(folder, work, log)
        result: dict = {"folder": str(folder), "documents": str(docs), "ingest": {}}
        if embedding_only:
            log("embedding the same chunks: plain sentence-transformers fp32 and Quire's")
            result["embedding"] = embedding(docs, settings)
            return result
        pdfs = sorted(p for p in docs.rglob("*") if p.suffix.lower() == ".pdf")
        if pdfs:
            log(f"PDF extraction, pypdf and PDFium, on {len(pdfs)} PDFs")
            result["pdf_extraction"] = pdf_extraction(pdfs)
        log("parsing every file in the parse worker, by format")
        result["formats"] = formats(docs, settings)
        log("embedding the same chunks: plain sentence-transformers fp32 and Quire's")
        result["embedding"] = embedding(docs, settings)
        # The parse worker's cost: the same ingest parsing in-process (no limits, no isolation).
        runs = {"quire": {}, "quire, parsing in-process": {"QUIRE_PARSE_WORKER": "inline"}}
        if plain:
            runs["quire, no parsing ahead"] = {"QUIRE_PARSE_AHEAD": "0"}
            runs["plain: pypdf, torch fp32, no parsing ahead"] = {
                "QUIRE_PDF_ENGINE": "pypdf",
                "QUIRE_EMBED_PRECISION": "fp32",
                "QUIRE_EMBED_BACKEND": "torch",
                "QUIRE_PARSE_AHEAD": "0",
            }
        for name, env in runs.items():
            home = work / f"home-{len(result['ingest'])}"
            log(f"ingest ({name}) in a fresh process")
            result["ingest"][name] = ingest_process(docs, home, env)
            if name == "quire":
                log("the same ingest again, nothing changed")
                result["unchanged"] = ingest_process(docs, home, env)
    return result


def _documents(folder: Path, work: Path, log) -> Path:
    if (folder / "corpus.jsonl").is_file():
        from quire.bench.retrieval import read_beir, write_corpus

        corpus, _, _ = read_beir(folder)
        log(f"writing {len(corpus)} BEIR documents as Markdown notes")
        write_corpus(corpus, work / "docs")
        return work / "docs"
    if not folder.is_dir():
        raise QuireError(f"not a folder: {folder}")
    return folder


def formats(docs: Path, settings: Settings) -> dict:
    """Each file parsed as ingest parses it (in the parse worker, started beforehand); per
    format: files, failures, pages (slides, sheets ...; 1 for a file without pages), seconds,
    files/s and pages/s."""
    from ingest.files import discover
    from ingest.load import kind_for
    from ingest.sandbox import Sandbox

    sandbox = Sandbox.from_settings(settings)
    sandbox.load("warm-up.txt", b"warm up")
    out: dict[str, dict] = {}
    try:
        for path in discover([str(docs)]).files:
            data = Path(path).read_bytes()
            row = out.setdefault(kind_for(path) or "?", _counts())
            t = time.perf_counter()
            try:
                doc = sandbox.load(path, data)
                row["pages"] += len(doc.pages) if doc.paged else 1
            except QuireError:
                row["failed"] += 1
                doc = None
            for note in doc.notes if doc else ():
                m = re.match(r"OCR: (\d+) pages?.* in ([\d.]+) s", note)
                if m:  # the OCR'd pages, counted apart as well
                    ocr = out.setdefault("(OCR, of the above)", _counts())
                    ocr["files"] += 1
                    ocr["pages"] += int(m.group(1))
                    ocr["seconds"] += float(m.group(2))
            row["seconds"] += time.perf_counter() - t
            row["files"] += 1
    finally:
        sandbox.close()
    for row in out.values():
        s = max(row["seconds"], 1e-9)
        row["files_per_second"] = round(row["files"] / s, 1)
        row["pages_per_second"] = round(row["pages"] / s, 1)
        row["seconds"] = round(row["seconds"], 3)
    return dict(sorted(out.items()))


def _counts() -> dict:
    return {"files": 0, "failed": 0, "pages": 0, "seconds": 0.0}


def pdf_extraction(pdfs: list[Path]) -> dict:
    from ingest.formats.pdf import _pdfium_pages, _pypdf_pages

    out = {"pdfs": len(pdfs), "pages": 0, "pypdf_seconds": 0.0, "pdfium_seconds": 0.0}
    words_pypdf = words_both = 0
    for path in pdfs:
        data = path.read_bytes()
        t = time.perf_counter()
        try:
            slow = _pypdf_pages(data).pages
        except QuireError:
            continue
        out["pypdf_seconds"] += time.perf_counter() - t
        t = time.perf_counter()
        got = _pdfium_pages(data)
        out["pdfium_seconds"] += time.perf_counter() - t
        fast = got.pages if got else []
        out["pages"] += len(slow)
        for a, b in zip(slow, fast):
            wa, wb = set(a.split()), set(b.split())
            words_pypdf += len(wa)
            words_both += len(wa & wb)
    out["pypdf_pages_per_second"] = round(out["pages"] / max(out["pypdf_seconds"], 1e-9), 1)
    out["pdfium_pages_per_second"] = round(out["pages"] / max(out["pdfium_seconds"], 1e-9), 1)
    out["speedup"] = round(out["pdfium_pages_per_second"] / out["pypdf_pages_per_second"], 2)
    out["pypdf_words_also_found_by_pdfium"] = round(words_both / max(words_pypdf, 1), 4)
    out["pypdf_seconds"] = round(out["pypdf_seconds"], 2)
    out["pdfium_seconds"] = round(out["pdfium_seconds"], 2)
    return out


def embedding(docs: Path, settings: Settings, rounds: int = 2) -> dict:
    """The same chunk texts embedded by plain `SentenceTransformer.encode` in fp32 (its
    defaults) and by each backend Quire has (torch bf16 where the CPU has it, ONNX Runtime fp32
    and int8), in turns, `rounds` times; each backend's best round counts (the others ran
    while something else took the machine)."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from quire.engine import make_embedder
    from rag.retrieval.backends.bundled import bundled_embedder_path
    from rag.retrieval.embed import cpu_has_bf16

    def local(precision: str):
        return make_embedder(replace(settings, embedder="local", embed_precision=precision))

    chosen = local(settings.embed_precision)
    texts, tokens = _chunk_texts(docs, settings, chosen)
    plain = SentenceTransformer(str(settings.embed_model or bundled_embedder_path()), device="cpu")
    backends = {"plain sentence-transformers fp32": plain.encode}
    if cpu_has_bf16():
        backends["torch bf16"] = local("bf16").embed
    if settings.embed_backend != "torch":
        backends["onnx fp32"] = local("fp32").embed
        backends["onnx int8"] = local("int8").embed
    for embed in backends.values():
        embed(texts[:32])  # loaded, and warm
    seconds: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, embed in backends.items():
            t = time.perf_counter()
            got = np.asarray(embed(texts), dtype=np.float32)
            took = time.perf_counter() - t
            seconds[name] = min(took, seconds.get(name, took))
            vectors[name] = got / np.maximum(np.linalg.norm(got, axis=1, keepdims=True), 1e-12)
    base = "plain sentence-transformers fp32"
    out = {}
    for name in backends:
        cos = (vectors[base] * vectors[name]).sum(axis=1)
        out[name] = {
            "chunks_per_second": round(len(texts) / seconds[name], 1),
            "speedup": round(seconds[base] / seconds[name], 2),
            "cosine_to_fp32_min": round(float(cos.min()), 4),
            "cosine_to_fp32_median": round(float(statistics.median(cos.tolist())), 4),
        }
    return {
        "chunks": len(texts),
        "tokens": tokens,
        "batch_size": settings.embed_batch,
        "rounds": rounds,
        "chosen": chosen.precision,
        "backends": out,
    }


def _chunk_texts(docs: Path, settings: Settings, embedder) -> tuple[list[str], dict]:
    """What the embedder is given for the first EMBED_SAMPLE chunks of DOCS, and what the
    chunker makes it do, in the model's tokens over those documents: `source` (their text,
    page by page), `chunks` (the chunks' text: overlap counted twice), `embedded` (with the heading
    path in front, as far as the model reads)."""
    from ingest.chunk import chunk_document, embedding_text
    from ingest.files import discover
    from ingest.load import load

    texts: list[str] = []
    tokens = {"source": 0, "chunks": 0, "embedded": 0}
    count, limit = embedder.count_tokens, embedder.max_tokens
    for path in discover([str(docs)]).files:
        try:
            doc = load(path, Path(path).read_bytes())
        except QuireError:
            continue
        chunks = chunk_document(
            doc,
            path,
            settings.chunk_tokens,
            settings.chunk_overlap,
            count,
            limit,
        )
        given = [embedding_text(c) for c in chunks]
        texts.extend(given)
        tokens["source"] += sum(count(list(doc.pages)))
        tokens["chunks"] += sum(count([c.text for c in chunks]))
        tokens["embedded"] += sum(min(n, limit) for n in count(given))
        if len(texts) >= EMBED_SAMPLE:
            break
    tokens["embedded_per_source_token"] = round(tokens["embedded"] / max(tokens["source"], 1), 3)
    return texts[:EMBED_SAMPLE], tokens


_CHILD = """
import atexit, resource, sys
def peak():
    with open("/proc/self/status") as f:
        kb = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    print("PEAK_RSS_KB", kb, file=sys.stderr)
    # The parse worker, reaped by now (its finaliser was registered after this hook).
    print("WORKER_RSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
atexit.register(peak)
from quire.cli import main
sys.exit(main(sys.argv[1:]))
"""


def ingest_process(docs: Path, home: Path, env: dict[str, str]) -> dict:
    """`quire ingest DOCS --json` in a child process; its wall time and peak RSS."""
    full = {**os.environ, **env, "QUIRE_HOME": str(home)}
    t = time.perf_counter()
    # The child reports its own peak (VmHWM): the parent's rusage would count the pages it
    # shared with this (large) process before exec.
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, "ingest", str(docs), "--json"],
        env=full,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise QuireError(f"quire ingest failed ({proc.returncode}): {proc.stderr[-500:]}")
    peak_kb = int(proc.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
    worker_kb = int(proc.stderr.rsplit("WORKER_RSS_KB", 1)[1].split()[0])
    report = json.loads(proc.stdout)
    files = report["files"]
    pages = sum(f["pages"] or 1 for f in files if f["status"] in ("added", "updated"))
    seconds = report["seconds"]
    return {
        "env": env,
        "files": len(files),
        "counts": report["counts"],
        "chunks": report["chunks"],
        "pages": pages,
        "ingest_seconds": seconds,
        "wall_seconds": round(wall, 2),  # with Python start-up and model loading
        "files_per_second": round(len(files) / seconds, 1) if seconds else None,
        "pages_per_second": round(pages / seconds, 1) if seconds else None,
        "chunks_per_second": report["chunks_per_second"],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "parse_worker_peak_rss_mb": round(worker_kb / 1024, 1),
    }


def format_ingest(r: dict) -> str:
    lines = [f"documents: {r['documents']}"]
    pe = r.get("pdf_extraction")
    if pe:
        lines += [
            "",
            f"PDF text extraction, {pe['pdfs']} PDFs, {pe['pages']} pages:",
            f"  pypdf   {pe['pypdf_pages_per_second']:8.1f} pages/s",
            f"  PDFium  {pe['pdfium_pages_per_second']:8.1f} pages/s  ({pe['speedup']}x; "
            f"{pe['pypdf_words_also_found_by_pdfium']:.1%} of pypdf's words also in PDFium's)",
        ]
    if r.get("formats"):
        lines += ["", f"{'parsing, by format':20} {'files':>6} {'failed':>6} {'pages':>7} "
                  f"{'seconds':>8} {'files/s':>8} {'pages/s':>8}"]  # fmt: skip
        for kind, m in r["formats"].items():
            lines.append(
                f"{kind:20} {m['files']:6} {m['failed']:6} {m['pages']:7} {m['seconds']:8.2f} "
                f"{m['files_per_second']:8.1f} {m['pages_per_second']:8.1f}"
            )
    e = r["embedding"]
    lines += [
        "",
        f"embedding {e['chunks']} chunks (batch {e['batch_size']}, best of {e['rounds']} rounds; "
        f"Quire chooses {e['chosen']} on this CPU):",
    ]
    for name, m in e["backends"].items():
        lines.append(
            f"  {name:34} {m['chunks_per_second']:7.1f} chunks/s  ({m['speedup']}x; cosine to "
            f"fp32 min {m['cosine_to_fp32_min']}, median {m['cosine_to_fp32_median']})"
        )
    t = e["tokens"]
    lines += [
        f"  model tokens of those documents: {t['source']} in their text, {t['chunks']} in the "
        f"chunks (overlaps twice), {t['embedded']} embedded (heading paths in front, cut at the "
        f"model's limit): {t['embedded_per_source_token']} per source token",
    ]
    if not r["ingest"]:
        return "\n".join(lines)
    lines += [
        "",
        f"{'ingest':40} {'files':>6} {'pages':>6} {'chunks':>7} {'seconds':>8} {'files/s':>8} "
        f"{'pages/s':>8} {'chunks/s':>9} {'peak RSS':>9} {'worker':>8}",
    ]
    rows = dict(r["ingest"])
    if "unchanged" in r:
        rows["quire, again with nothing changed"] = r["unchanged"]
    for name, m in rows.items():
        lines.append(
            f"{name:40} {m['files']:6} {m['pages']:6} {m['chunks']:7} {m['ingest_seconds']:8.2f} "
            f"{m['files_per_second'] or 0:8.1f} {m['pages_per_second'] or 0:8.1f} "
            f"{m['chunks_per_second']:9.1f} {m['peak_rss_mb']:7.0f} MB "
            f"{m.get('parse_worker_peak_rss_mb', 0):5.0f} MB"
        )
    return "\n".join(lines)
