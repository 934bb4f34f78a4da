"""The cross-encoder path with a real (tiny, randomly initialised) model saved on disk.

No cross-encoder weights ship in any installable package here, so this proves the loading and
scoring path, not ranking quality."""

from __future__ import annotations

import pytest

from rag.retrieval.backends.bundled import bundled_embedder_path
from rag.retrieval.fusion import fuse
from rag.retrieval.rerank import CrossEncoderReranker, rerank
from rag.types import Chunk


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)  # random weights, but the same ones every run: no tied scores by chance
    folder = tmp_path_factory.mktemp("ce")
    tok = AutoTokenizer.from_pretrained(str(bundled_embedder_path()))
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_cross_encoder_scores_and_reranks(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder)
    passages = ["owls hunt at night", "bread needs yeast", "comets have tails"]
    scores = reranker.score("which birds hunt at night", passages)
    assert len(scores) == 3 and len(set(scores)) == 3
    chunks = [Chunk(source=f"/{i}.md", text=p, start=0, end=len(p)) for i, p in enumerate(passages)]
    hits = fuse([(c, 1.0) for c in chunks], [])
    order = rerank(reranker, "which birds hunt at night", hits, 3)
    expected = [p for _, p in sorted(zip(scores, passages), key=lambda t: -t[0])]
    assert [h.chunk.text for h in order] == expected


def test_missing_model_folder_is_a_clear_error(tmp_path):
    from rag.errors import QuireError

    with pytest.raises(QuireError, match="QUIRE_RERANK_MODEL"):
        CrossEncoderReranker(tmp_path / "nothing").score("q", ["p"])
