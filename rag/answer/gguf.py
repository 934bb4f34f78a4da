"""A bounded, pure-Python reader of a GGUF file's header: what a model is, without loading it."""

from __future__ import annotations

import math
import os
import re
import stat
import struct
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

MAGIC = b"GGUF"
# Files are untrusted: every count, length and the total read is capped, and a breach means None.
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_STRING_BYTES = 1024 * 1024
MAX_ARRAY_ITEMS = 2_000_000  # per array; the largest vocabularies have ~260k tokens
MAX_ITEMS = 4_000_000  # array elements and tensors in the whole header (~1.5 s at worst)
MAX_TENSORS = 1_000_000
MAX_KVS = 100_000
MAX_DIMS = 8
MAX_ARRAY_DEPTH = 2
CHUNK = 1024 * 1024
SHORT_TEXT = 200  # names and labels kept for display
MAX_SPLIT_PARTS = 256
_SPLIT = re.compile(r"(.+)-(\d{5})-of-(\d{5})\.gguf", re.IGNORECASE)

# Value types: fixed-size scalars by struct code; 8 string, 9 array.
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRUCTS = {t: struct.Struct("<" + c) for t, c in _SCALARS.items()}
_STRING, _ARRAY = 8, 9
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
_DIMS = [struct.Struct(f"<{n}Q") for n in range(MAX_DIMS + 1)]

# llama.cpp's llama_ftype (general.file_type).
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M",
    30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}  # fmt: skip
# ggml_type of a tensor, used when general.file_type is missing.
GGML_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
    10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
    17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
    23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16",
    34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}  # fmt: skip
_WANTED = {"general.name", "general.architecture", "general.file_type", "general.size_label"}


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF header says about its model."""

    path: str
    size_bytes: int
    name: str
    architecture: str | None
    params: int | None
    context_length: int | None
    file_type: int | None
    quantization: str | None
    has_chat_template: bool
    size_label: str | None
    version: int
    tensor_count: int


class _Bad(Exception):
    """The header breaks the format or one of the limits."""


class _Reader:
    """Reads a file forward in chunks, never past MAX_HEADER_BYTES in total."""

    def __init__(self, f) -> None:
        self.f = f
        self.buf = b""
        self.pos = 0
        self.consumed = 0  # bytes before buf[0]
        self.items = 0

    def need(self, n: int) -> None:
        """Make buf[pos:pos+n] available, or raise _Bad."""
        have = len(self.buf) - self.pos
        if n <= have:
            return
        if self.consumed + self.pos + n > MAX_HEADER_BYTES:
            raise _Bad("header too large")
        more = self.f.read(max(n - have, CHUNK))
        while len(more) < n - have:  # a short read is not always the end of the file
            extra = self.f.read(n - have - len(more))
            if not extra:
                raise _Bad("truncated")
            more += extra
        self.consumed += self.pos
        self.buf = self.buf[self.pos :] + more
        self.pos = 0

    def unpack(self, st: struct.Struct):
        self.need(st.size)
        (value,) = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return value

    def u32(self) -> int:
        return self.unpack(_U32)

    def u64(self) -> int:
        return self.unpack(_U64)

    def skip(self, n: int) -> None:
        if self.consumed + self.pos + n > MAX_HEADER_BYTES:
            raise _Bad("header too large")
        have = len(self.buf) - self.pos
        if n <= have:
            self.pos += n
            return
        # Past the buffer: seek, dropping what was read (a big numeric array, say).
        rest = n - have
        self.consumed += len(self.buf)
        self.buf, self.pos = b"", 0
        here = self.f.tell()
        if here + rest > os.fstat(self.f.fileno()).st_size:
            raise _Bad("truncated")
        self.f.seek(here + rest)
        self.consumed += rest

    def string(self) -> str:
        n = self.u64()
        if n > MAX_STRING_BYTES:
            raise _Bad("string too long")
        self.need(n)
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def count(self, n: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise _Bad("too many items")

    def skip_strings(self, count: int) -> None:
        """Step over `count` strings without decoding or keeping them (~0.3 microseconds each)."""
        self.count(count)
        unpack = _U64.unpack_from
        buf, pos = self.buf, self.pos  # locals: this loop runs for every token of a vocabulary
        size = len(buf)
        for _ in range(count):
            if pos + 8 > size:
                self.pos = pos
                self.need(8)
                buf, pos, size = self.buf, self.pos, len(self.buf)
            (n,) = unpack(buf, pos)
            if n > MAX_STRING_BYTES:
                raise _Bad("string too long")
            pos += 8 + n
            if pos > size:
                self.pos = pos - 8 - n
                self.need(8 + n)
                buf, size = self.buf, len(self.buf)
                pos = self.pos + 8 + n
        self.pos = pos

    def skip_value(self, vtype: int, depth: int = 0) -> None:
        if vtype in _STRUCTS:
            self.skip(_STRUCTS[vtype].size)
        elif vtype == _STRING:
            self.skip_strings(1)
        elif vtype == _ARRAY and depth < MAX_ARRAY_DEPTH:
            etype, n = self.u32(), self.u64()
            if n > MAX_ARRAY_ITEMS:
                raise _Bad("array too long")
            if etype in _STRUCTS:
                self.count(n)
                self.skip(n * _STRUCTS[etype].size)
            elif etype == _STRING:
                self.skip_strings(n)
            elif etype == _ARRAY:
                self.count(n)
                for _ in range(n):
                    self.skip_value(_ARRAY, depth + 1)
            else:
                raise _Bad("bad array type")
        else:
            raise _Bad("bad value type")

    def value(self, vtype: int):
        """A scalar or a string value (arrays are skipped and give None)."""
        if vtype in _STRUCTS:
            return self.unpack(_STRUCTS[vtype])
        if vtype == _STRING:
            return self.string()
        self.skip_value(vtype)
        return None


def read_gguf(path: str | os.PathLike[str]) -> GGUFInfo | None:
    """The header of a GGUF file, or None when it is not a valid one (never raises)."""
    try:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)  # O_NONBLOCK: a FIFO named *.gguf must not hang the scan
    except (OSError, ValueError, TypeError):
        return None
    try:
        f = os.fdopen(fd, "rb", buffering=0)  # owns fd from here on
    except OSError:
        os.close(fd)
        return None
    try:
        with f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return None
            return _parse(_Reader(f), Path(path), st.st_size)
    except (_Bad, OSError, ValueError, MemoryError, OverflowError, struct.error):
        return None


@lru_cache(maxsize=512)
def _cached(real: str, size: int, mtime_ns: int, ino: int) -> GGUFInfo | None:
    return read_gguf(real)


def read_gguf_cached(path: str | os.PathLike[str], min_bytes: int = 0) -> GGUFInfo | None:
    """read_gguf of a regular file of at least `min_bytes`, remembered while it is unchanged."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size < min_bytes:
        return None
    return _cached(real, st.st_size, st.st_mtime_ns, st.st_ino)


def read_model_file(path: Path, min_bytes: int = 0) -> tuple[str, GGUFInfo] | None:
    """Name and header of a *.gguf model; a split one (x-00001-of-00003.gguf) by part 1 only.

    A split model's size and parameters are summed over its parts; a missing part gives None."""
    split = _SPLIT.fullmatch(path.name)
    if not split:
        info = read_gguf_cached(path, min_bytes)
        return (path.name[: -len(".gguf")], info) if info else None
    stem, part, total = split.group(1), int(split.group(2)), split.group(3)
    if part != 1 or not 1 <= int(total) <= MAX_SPLIT_PARTS:
        return None
    infos = []
    for i in range(1, int(total) + 1):
        info = read_gguf_cached(path.with_name(f"{stem}-{i:05d}-of-{total}{path.suffix}"))
        if info is None:
            return None  # the model cannot load without it
        infos.append(info)
    size = sum(i.size_bytes for i in infos)
    params = sum(i.params or 0 for i in infos) or None
    return (stem, replace(infos[0], size_bytes=size, params=params)) if size >= min_bytes else None


def _parse(r: _Reader, path: Path, size: int) -> GGUFInfo:
    r.need(4)
    if r.buf[:4] != MAGIC:
        raise _Bad("not GGUF")
    r.pos = 4
    version = r.u32()
    if version not in (2, 3):
        raise _Bad("unsupported version")
    n_tensors, n_kvs = r.u64(), r.u64()
    if n_tensors > MAX_TENSORS or n_kvs > MAX_KVS:
        raise _Bad("too many entries")
    meta, contexts, chat_template = {}, {}, False
    for _ in range(n_kvs):
        key = r.string()
        vtype = r.u32()
        if key in _WANTED or key.endswith(".context_length"):
            value = r.value(vtype)
            (contexts if key.endswith(".context_length") else meta)[key] = value
        else:
            chat_template |= key == "tokenizer.chat_template"
            r.skip_value(vtype)
    params, types = _tensors(r, n_tensors)
    arch = clean_text(meta.get("general.architecture"))
    file_type = _int(meta.get("general.file_type"))
    quant = FILE_TYPES.get(file_type) if file_type is not None else None
    if quant is None and types:
        quant = GGML_TYPES.get(types.most_common(1)[0][0])
    return GGUFInfo(
        path=str(path),
        size_bytes=size,
        name=clean_text(meta.get("general.name")) or clean_text(path.stem) or "model",
        architecture=arch,
        params=params,
        context_length=_int(contexts.get(f"{arch}.context_length")) if arch else None,
        file_type=file_type,
        quantization=quant,
        has_chat_template=chat_template,
        size_label=clean_text(meta.get("general.size_label")),
        version=version,
        tensor_count=n_tensors,
    )


def _tensors(r: _Reader, n_tensors: int) -> tuple[int | None, Counter[int]]:
    """Total parameters, and the ggml types of matrices weighted by their size."""
    total, types = 0, Counter()
    r.count(n_tensors)
    for _ in range(n_tensors):
        # name (u64 length + bytes), u32 n_dims, n_dims x u64, u32 ggml type, u64 offset
        r.need(8)
        (name_len,) = _U64.unpack_from(r.buf, r.pos)
        if name_len > MAX_STRING_BYTES:
            raise _Bad("string too long")
        r.need(12 + name_len)
        at = r.pos + 8 + name_len
        (n_dims,) = _U32.unpack_from(r.buf, at)
        if n_dims > MAX_DIMS:
            raise _Bad("too many dimensions")
        r.need(24 + name_len + 8 * n_dims)
        at = r.pos + 12 + name_len
        elements = math.prod(_DIMS[n_dims].unpack_from(r.buf, at))
        (ggml_type,) = _U32.unpack_from(r.buf, at + 8 * n_dims)
        r.pos = at + 8 * n_dims + 12
        total += elements
        if n_dims >= 2:
            types[ggml_type] += elements
    return (total if n_tensors else None), types


def clean_text(value) -> str | None:
    """A metadata string made safe to show: printable, bounded, or None."""
    if not isinstance(value, str):
        return None
    clean = "".join(c for c in value[: SHORT_TEXT * 4] if c.isprintable()).strip()
    return clean[:SHORT_TEXT] or None


def _int(value) -> int | None:
    """An integer metadata value (not a bool), or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def format_params(n: int | None) -> str:
    """A parameter count for people: 135M, 3.2B, 70B."""
    if not n or n < 0:
        return ""
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= scale:
            value = n / scale
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return text.removesuffix(".0") + unit
    return str(n)
