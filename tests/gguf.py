"""A tiny GGUF writer for the tests: valid headers, and the pieces to build broken ones."""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path

MIB = 1024 * 1024
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_CODES = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?"}
_CODES |= {U64: "Q", I64: "q", F64: "d"}


class Typed:
    """A metadata value with an explicit GGUF type (arrays: the element type)."""

    def __init__(self, vtype: int, value) -> None:
        self.vtype, self.value = vtype, value


def gstr(text: str | bytes) -> bytes:
    """A GGUF string: uint64 length, then the bytes."""
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def header(n_tensors: int, n_kvs: int, version: int = 3, magic: bytes = b"GGUF") -> bytes:
    """The fixed start of a GGUF file."""
    return magic + struct.pack("<IQQ", version, n_tensors, n_kvs)


def _infer(value) -> int:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return U32 if 0 <= value < 2**32 else I64
    if isinstance(value, float):
        return F32
    if isinstance(value, str):
        return STRING
    raise TypeError(f"no GGUF type for {value!r}")


def _scalar(vtype: int, value) -> bytes:
    if vtype == STRING:
        return gstr(value)
    return struct.pack("<" + _CODES[vtype], value)


def kv(key: str, value) -> bytes:
    """One metadata entry; lists become arrays of their first element's type."""
    vtype = value.vtype if isinstance(value, Typed) else None
    value = value.value if isinstance(value, Typed) else value
    if isinstance(value, list | tuple):
        etype = vtype if vtype is not None else (_infer(value[0]) if value else U32)
        body = b"".join(_scalar(etype, v) for v in value)
        return gstr(key) + struct.pack("<IIQ", ARRAY, etype, len(value)) + body
    vtype = vtype if vtype is not None else _infer(value)
    return gstr(key) + struct.pack("<I", vtype) + _scalar(vtype, value)


def tensor_info(name: str, dims: Sequence[int], ggml_type: int, offset: int = 0) -> bytes:
    """One tensor description: name, dimensions, ggml type, data offset."""
    packed = b"".join(struct.pack("<Q", d) for d in dims)
    return (
        gstr(name) + struct.pack("<I", len(dims)) + packed + struct.pack("<IQ", ggml_type, offset)
    )


def gguf_bytes(
    metadata: dict, tensors: Sequence[tuple[str, Sequence[int], int]] = (), version: int = 3
) -> bytes:
    """A whole GGUF header (no tensor data)."""
    body = b"".join(kv(k, v) for k, v in metadata.items())
    body += b"".join(tensor_info(n, d, t) for n, d, t in tensors)
    return header(len(tensors), len(metadata), version) + body


def write_gguf(
    path: Path,
    metadata: dict,
    tensors: Sequence[tuple[str, Sequence[int], int]] = (),
    pad_to: int | None = 2 * MIB,
    version: int = 3,
) -> Path:
    """Write a GGUF header, padded (sparsely) to `pad_to` bytes so scans do not skip it as tiny."""
    return write_raw(path, gguf_bytes(metadata, tensors, version), pad_to)


def write_raw(path: Path, data: bytes, pad_to: int | None = 2 * MIB) -> Path:
    """Write bytes, then extend the file sparsely to `pad_to` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if pad_to and pad_to > len(data):
        os.truncate(path, pad_to)
    return path


LLAMA_TENSORS = [
    ("token_embd.weight", [576, 49152], 3),
    ("blk.0.attn_q.weight", [576, 576], 3),
    ("blk.0.attn_norm.weight", [576], 0),
]
LLAMA_PARAMS = 576 * 49152 + 576 * 576 + 576


def llama_meta(name: str = "Tiny Llama", context: int = 8192, file_type: int = 3) -> dict:
    """Metadata of a plausible small llama model."""
    return {
        "general.architecture": "llama",
        "general.name": name,
        "general.file_type": file_type,
        "llama.context_length": context,
        "tokenizer.chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}",
    }
