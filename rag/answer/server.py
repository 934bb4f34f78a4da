"""The client for an OpenAI-compatible chat server (llama.cpp server, Ollama, vLLM, LM Studio),
which treats every byte the server sends as untrusted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence

from rag.answer.generate import Message
from rag.errors import QuireError


class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint (llama.cpp server, Ollama, vLLM), streamed.

    Its tokenizer is not known here, so tokens are counted with tiktoken cl100k and the
    context size comes from settings; both are documented as estimates.

    Every byte the server sends is untrusted: `stream` raises nothing but `QuireError`.
    - No proxy from the environment (`trust_env=False`): the excerpts (the user's documents)
      go to the server the user named and nowhere else. Redirects are not followed.
    - `timeout` bounds the whole answer (checked between reads; a single silent read is also
      cut off after `timeout`), `connect_timeout` the connection.
    - A line over `max_line` bytes or a reply over `max_reply` bytes ends the answer.
    - Empty and usage-only chunks are skipped, and so is a malformed chunk (not JSON, wrong
      shapes); a reply without one well-formed chunk is an error, and so is an error chunk.
    - `user:pass@` in the URL is sent as basic auth (it takes the place of `api_key`, as
      before) and shown as `***@` in `name`, `url`, `repr` and every error message.
    - Text from the server in an error message is a short excerpt, printable characters only."""

    max_line = 1 << 20  # bytes in one SSE line
    max_reply = 4 << 20  # bytes in the whole reply
    max_excerpt = 200  # characters of server text in an error message

    def __init__(
        self,
        url: str,
        model: str = "",
        api_key: str = "",
        n_ctx: int = 4096,
        timeout: float = 120,
        connect_timeout: float = 10,
    ):
        from urllib.parse import unquote

        self.kind = "server"
        self.params = None
        url = url.strip().rstrip("/")
        self._auth: tuple[str, str] | None = None
        self._secrets = [api_key] if api_key else []
        # a regex, not urlsplit: 'user:pass@host' without a scheme must be redacted too
        m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*://)?([^/?#]*)@", url)
        if m:
            scheme, userinfo, rest = m.group(1) or "", m.group(2), url[m.end() :]
            user, _, password = userinfo.partition(":")
            self._auth = (unquote(user), unquote(password)) if userinfo else None
            self._secrets += [userinfo, unquote(user), unquote(password)]
            self._url = scheme + rest  # what is requested
            self.url = f"{scheme}***@{rest}"  # what is shown
        else:
            self._url = self.url = url
        self.model = model
        self.name = f"{model or 'model'} at {self.url}"
        self.api_key = api_key
        self.n_ctx = n_ctx
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)

    def __repr__(self) -> str:
        return f"OpenAIGenerator({self.url!r}, model={self.model!r}, n_ctx={self.n_ctx})"

    @property
    def context_size(self) -> int:
        return self.n_ctx

    def count_tokens(self, text: str) -> int:
        from rag.tokens import encoding

        return len(encoding().encode_ordinary(text))

    def _endpoint(self, url: str) -> str:
        if url.endswith("/chat/completions"):
            return url
        return f"{url}/chat/completions" if url.endswith("/v1") else f"{url}/v1/chat/completions"

    def _clean(self, text: str) -> str:
        """Server text made safe to show: no escapes, markup, control characters or secrets."""
        import html

        text = html.unescape(text[:4000])
        text = re.sub(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|.?)", "", text)
        text = re.sub(r"<[^<>]*(>|$)", " ", text)  # [^<>]: linear even on '<<<<...'
        text = "".join(c if c.isprintable() else " " for c in text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            if len(secret) >= 3:
                text = text.replace(secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= self.max_excerpt else text[: self.max_excerpt - 1] + "…"

    def _error_text(self, body: bytes) -> str:
        """The message in an error body (OpenAI's {"error": {"message": ...}} if it is one)."""
        text = body.decode("utf-8", "replace")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: '[[[[...' nested too deep
            return self._clean(text)
        if isinstance(data, dict):
            for key in ("error", "detail", "message"):
                if data.get(key):
                    return self._message(data[key])
        return self._clean(text)

    def _message(self, error: object) -> str:
        """A cleaned message from an error value: a string, or a dict with a 'message'."""
        if isinstance(error, dict) and error.get("message"):
            error = error["message"]
        if not isinstance(error, str):
            try:
                error = json.dumps(error)[:4000]
            except (ValueError, RecursionError):
                error = ""
        return self._clean(error)

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        import time

        import httpx

        endpoint = self._endpoint(self._url)
        shown = self._endpoint(self.url)
        body = {
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
        }
        if self.model:
            body["model"] = self.model
        headers = {"Accept-Encoding": "identity"}  # raw bytes are counted: no gzip bomb
        if self.api_key and not self._auth:
            headers["Authorization"] = f"Bearer {self.api_key}"
        deadline = time.monotonic() + self.timeout
        timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout)
        try:
            with (
                httpx.Client(
                    trust_env=False, follow_redirects=False, timeout=timeout, auth=self._auth
                ) as client,
                client.stream("POST", endpoint, json=body, headers=headers) as resp,
            ):
                if resp.status_code != 200:
                    raise QuireError(self._status_error(resp, shown, deadline))
                encoding = resp.headers.get("content-encoding", "identity").lower()
                if encoding not in ("", "identity"):
                    raise QuireError(f"the LLM server at {shown} sent a compressed stream")
                yield from self._chunks(self._lines(resp, shown, deadline), shown)
        except QuireError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as exc:
            reason = self._clean(str(exc)) or type(exc).__name__
            raise QuireError(f"cannot reach the LLM server at {shown}: {reason}") from None

    def _status_error(self, resp, shown: str, deadline: float) -> str:
        """The message for a reply that is not 200: status, and a cleaned excerpt of the body."""
        import httpx

        status = f"the LLM server at {shown} answered {resp.status_code}"
        if 300 <= resp.status_code < 400:
            return f"{status} (a redirect; redirects are not followed)"
        body = b""
        try:
            for line in self._lines(resp, shown, deadline, limit=64 << 10):
                body += line + b"\n"
        except (QuireError, httpx.HTTPError, httpx.StreamError):
            pass  # a long, slow or broken body: the excerpt so far will do
        excerpt = self._error_text(body)
        return f"{status}: {excerpt}" if excerpt else status

    def _lines(
        self, resp, shown: str, deadline: float, limit: int | None = None
    ) -> Iterator[bytes]:
        """The reply's lines, with the deadline and the size limits checked between reads."""
        import time

        limit = self.max_reply if limit is None else limit
        buf = b""
        total = 0
        for chunk in resp.iter_raw():
            total += len(chunk)
            if total > limit:
                raise QuireError(f"the LLM server at {shown} sent more than {limit:,} bytes")
            if time.monotonic() > deadline:
                raise QuireError(
                    f"the LLM server at {shown} did not finish within {self.timeout:g} s"
                )
            buf += chunk
            *lines, buf = re.split(rb"\r\n|\r|\n", buf)
            yield from lines
            if len(buf) > self.max_line:
                raise QuireError(
                    f"the LLM server at {shown} sent a line over {self.max_line:,} bytes"
                )
        if buf:
            yield buf

    def _chunks(self, lines: Iterator[bytes], shown: str) -> Iterator[str]:
        """The text in the SSE `data:` lines; see the class docstring for what is skipped."""
        well_formed = done = skipped = False
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            if not line.startswith("data:"):
                continue  # comments (': ping'), event:, id:, retry:, blank lines
            data = line[5:].strip()
            if data == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except (ValueError, RecursionError):
                chunk = None
            if not isinstance(chunk, dict):
                skipped = True
                continue
            if chunk.get("error"):
                message = self._message(chunk["error"])
                raise QuireError(f"the LLM server at {shown} reported an error: {message}")
            choices = chunk.get("choices")
            if not isinstance(choices, list):
                skipped = True
                continue
            well_formed = True
            if not choices or not isinstance(choices[0], dict):
                continue  # Azure's first chunk, the usage chunk
            delta = choices[0].get("delta")
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(text, str) and text:
                yield text
        if not well_formed and (skipped or not done):  # a bare [DONE] is an empty answer
            raise QuireError(f"the LLM server at {shown} sent no OpenAI-style stream")
