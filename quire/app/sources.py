"""A chat's answers as the app shows them: the text, its citation cards (opening the cited
page or passage), the closest passages of a refusal."""

from __future__ import annotations

import os

import streamlit as st

from quire.app.resources import services
from quire.chat import view
from quire.chat.chats import Message
from quire.chat.view import md, where
from rag.errors import QuireError


@st.cache_data(max_entries=32, show_spinner=False)
def page_png(path: str, page: int, mtime_ns: int, start: int, end: int) -> bytes:
    """The cited page, drawn once per file version (`mtime_ns`)."""
    return services().page_png(path, page, start, end)


@st.cache_data(max_entries=32, show_spinner=False)
def page_text(path: str, page: int | None, mtime_ns: int) -> str:
    return services().source_text(path, page)  # a PDF is parsed once, not on every rerun


def open_source(item: dict, start: int, end: int, quote: str) -> None:
    """The cited place in its document: the PDF page, or the note's text around the quote."""
    source, page = item["source"], item.get("page")
    try:
        mtime = os.stat(source).st_mtime_ns if os.path.exists(source) else 0
        if view.drawable(source, page):
            caption = item.get("location") or (f"page {page}" if page else "")
            png = page_png(source, page or 0, mtime, start, end)
            st.image(png, caption=md(caption) if caption else None)
        text = page_text(source, page, mtime)
        p = view.passage(text, start, end, quote)
        # The ellipses go inside the HTML: text before it would make the block inline HTML,
        # whose text Markdown rewrites again (a URL in it would become a link).
        before, after = "…" * p.clipped_before, "…" * p.clipped_after
        shown = view.marked(before + p.text + after, p.start + len(before), p.end + len(before))
        with st.container(height=320):
            st.markdown(shown, unsafe_allow_html=True)
    except QuireError as exc:
        st.error(md(str(exc)))


def citation_card(message_id: int, c: dict) -> None:
    with st.container(border=True):
        label = "found by Quire" if c.get("inferred") else "cited"
        st.markdown(f"[{c['n']}] {where(c)}  \n:gray[{label}]")
        offset = c["start"] - c.get("excerpt_start", c["start"])
        st.markdown(view.marked_quote(c["excerpt"], c["quote"], offset), unsafe_allow_html=True)
        if st.toggle(f"Open {view.open_label(c)}", key=f"open-{message_id}-{c['n']}"):
            open_source(c, c["start"], c["end"], c["quote"])


def passage_card(p: dict, scores: bool) -> None:
    with st.container(border=True):
        line = where(p)
        if scores:
            dense = "-" if p.get("dense") is None else f"{p['dense']:.3f}"
            line += f"  \n:gray[score {p['score']:.3f} · cosine {dense}]"
        st.markdown(line)
        st.markdown(view.marked(p["text"], 0, 0), unsafe_allow_html=True)


def show_answer(m: Message, scores: bool) -> None:
    d = m.data
    if d.get("error"):
        st.error(md(m.text))
        return
    if d.get("pending"):
        names = ", ".join(os.path.basename(p) for p in d["pending"])
        st.caption(f"Asked while these were still being indexed, so not used: {md(names)}")
    searched = d.get("standalone_question")
    searched = searched if searched and searched != d.get("question", searched) else ""
    if d.get("refused"):
        if searched:
            st.caption(f"searched for: {md(searched)}")
        st.warning(f"**Not in your documents.** {md(m.text)}", icon=":material/search_off:")
        for p in d.get("passages", [])[:3]:
            passage_card(p, scores)
        return
    left, right = st.columns([3, 2])
    if searched:
        left.caption(f"searched for: {md(searched)}")
    if d.get("note"):
        left.caption(md(d["note"]))
    left.markdown(md(m.text))
    if scores and d.get("timings"):
        t = d["timings"]
        left.caption(
            f"retrieval {t.get('retrieval_ms', 0):.0f} ms · first token "
            f"{t.get('first_token_ms', 0):.0f} ms · total {t.get('total_ms', 0):.0f} ms"
        )
    with right:
        if not d.get("citations"):
            st.caption("No passage supports this answer: check it against the documents.")
        for c in d.get("citations", []):
            citation_card(m.id, c)
    if scores and d.get("passages"):
        with st.expander("Retrieved passages"):
            for p in d["passages"]:
                passage_card(p, True)
