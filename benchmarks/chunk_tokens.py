"""What the chunker makes the embedder do, over whole folders: model tokens in the documents'
text, in the chunks (overlaps counted twice) and embedded (heading paths in front, cut at the
model's limit), with the configured overlap and with none.

    QUIRE_PARSE_WORKER=inline .venv/bin/python benchmarks/chunk_tokens.py DIR [DIR ...]
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import quire.bench.ingest as bench  # noqa: E402
from rag.retrieval.embed import LocalEmbedder  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main(folders: list[str]) -> int:
    bench.EMBED_SAMPLE = 10**9  # every chunk
    settings = Settings.from_env()
    for folder in folders:
        for overlap in dict.fromkeys((settings.chunk_overlap, 0)):
            s = replace(settings, chunk_overlap=overlap)
            texts, tokens = bench._chunk_texts(Path(folder), s, LocalEmbedder(s.embed_model))
            print(f"{folder}: overlap {overlap}, {len(texts)} chunks, {json.dumps(tokens)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
