"""`quire ask` (chats shared with the app), `quire chats` and `quire models`."""

from __future__ import annotations

import json
import time

from quire.cli import session
from quire.cli.output import hit_dict, rel, say, snippet, where
from quire.cli.search import filter_arguments
from rag.errors import QuireError
from rag.home import private_home


def add(sub) -> None:
    c = sub.add_parser("ask", help="answer a question from your documents, with sources")
    c.add_argument("question")
    c.add_argument(
        "--mode",
        choices=["auto", "llm", "quotes"],
        help="auto (default: quotes with the bundled model, the model's prose with one you "
        "set), llm, or quotes (no model)",
    )
    c.add_argument("--model", help="a GGUF file to answer with (default: bundled SmolLM2)")
    chat = c.add_mutually_exclusive_group()
    chat.add_argument(
        "-c", "--continue", dest="cont", action="store_true", help="continue the latest chat"
    )
    chat.add_argument("--chat", type=int, metavar="ID", help="continue chat ID (`quire chats`)")
    chat.add_argument("--new", action="store_true", help="start a new chat (the default)")
    filter_arguments(c)
    c.add_argument(
        "--json",
        action="store_true",
        help="print {answer, citations, hits, refused, mode, standalone_question, chat_id, "
        "timings} as JSON",
    )
    c.set_defaults(func=ask)

    c = sub.add_parser("chats", help="list the chats (shared with the app), or show one")
    c.add_argument("--show", type=int, metavar="ID", help="print chat ID's questions and answers")
    c.add_argument("--json", action="store_true", help="print them as JSON on stdout")
    c.set_defaults(func=chats)

    c = sub.add_parser("models", help="the answer models found on this computer")
    c.add_argument("--no-servers", action="store_true", help="do not look for local servers")
    c.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    c.set_defaults(func=models)


def ask(args) -> int:
    from dataclasses import asdict, replace

    from quire.chat.chats import ChatStore, Message, answer_data
    from quire.engine import build_engine
    from quire.filters import make_filters
    from rag.settings import Settings

    settings = Settings.from_env()
    if args.model:
        from pathlib import Path

        settings = replace(settings, llm_model=Path(args.model).expanduser().resolve(), llm_url="")
    filters = make_filters(args.path, args.type)
    private_home(settings.home)
    chats = ChatStore(settings.chats_path)
    chat = _chat_for(args, chats)
    history = chats.history(chat.id) if chat else []
    engine = build_engine(settings, store=session.early)  # the store the child opened meanwhile
    stream = engine.ask(args.question, history, mode=args.mode, filters=filters)
    if chat is None:
        chat = chats.create()
    chats.add(chat.id, Message("user", args.question))
    if args.json:
        answer = stream.result()
        chats.add(chat.id, Message("assistant", answer.text, answer_data(answer)))
        say(
            json.dumps(
                {
                    "answer": answer.text,
                    "citations": [asdict(c) for c in answer.citations],
                    "hits": [hit_dict(h) for h in answer.hits],
                    "refused": answer.refused,
                    "mode": answer.mode,
                    "mode_reason": answer.mode_reason,
                    "question": answer.question,
                    "standalone_question": answer.standalone_question,
                    "chat_id": chat.id,
                    "note": answer.note,
                    "timings": {k: round(v, 2) for k, v in answer.timings.items()},
                },
                indent=2,
            )
        )
        return 0
    if stream.searched != args.question:
        say(f"(searched for: {stream.searched})", err=True)
    for piece in stream:
        say(piece, end="", flush=True)
    say()
    answer = stream.answer
    chats.add(chat.id, Message("assistant", answer.text, answer_data(answer)))
    say(f"(chat {chat.id}: `quire ask -c` continues it)", err=True)
    if answer.refused:
        say("\nClosest passages:")
        for h in answer.hits[:3]:
            say(f"  {rel(h.chunk.source)}{where(h.chunk)}")
            say(f"    {snippet(h.chunk.text, args.question)}")
        return 0
    if answer.citations:
        say("\nSources:")
    for c in answer.citations:
        mark = " (supporting, not cited by the model)" if c.inferred else ""
        place = f", {c.location}" if c.location else ""
        say(f"  [{c.n}] {rel(c.source)}{place}{mark}")
        say(f'      "{" ".join(c.quote.split())}"')
    if answer.note:
        say(f"({answer.note})", err=True)
    return 0


def _chat_for(args, chats):
    """The chat this question continues (None: a new one)."""
    if args.cont:
        return chats.latest()
    if args.chat is not None:
        chat = chats.get(args.chat)
        if chat is None:
            raise QuireError(f"no chat {args.chat}: `quire chats` lists them")
        return chat
    return None


def chats(args) -> int:
    from quire.chat.chats import ChatStore
    from rag.settings import Settings

    settings = Settings.from_env()
    if not settings.chats_path.exists():
        found, counts, store = [], {}, None
    else:
        store = ChatStore(settings.chats_path)
        found, counts = store.chats(), store.counts()
    if args.show is not None:
        chat = store.get(args.show) if store else None
        if chat is None:
            raise QuireError(f"no chat {args.show}: `quire chats` lists them")
        msgs = store.messages(chat.id)
        if args.json:
            rows = [{"role": m.role, "text": m.text, **_message_extra(m)} for m in msgs]
            say(json.dumps({"id": chat.id, "title": chat.title, "messages": rows}, indent=2))
            return 0
        say(f"chat {chat.id}: {chat.title}")
        asked = ""
        for m in msgs:
            who = "you" if m.role == "user" else "quire"
            say(f"\n{who}: {m.text}")
            asked = m.text if m.role == "user" else asked
            searched = m.data.get("standalone_question")
            if m.role == "assistant" and searched and searched != asked:
                say(f"  (searched for: {searched})")
        return 0
    if args.json:
        rows = [
            {
                "id": c.id,
                "title": c.title,
                "created": c.created,
                "updated": c.updated,
                "messages": counts.get(c.id, 0),
            }
            for c in found
        ]
        say(json.dumps(rows, indent=2))
        return 0
    if not found:
        say("No chats yet: `quire ask QUESTION` starts one.")
        return 0
    for c in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.updated))
        say(f"{c.id:5}  {when}  {counts.get(c.id, 0):3} msgs  {c.title}")
    return 0


def _message_extra(m) -> dict:
    if m.role != "assistant":
        return {}
    keys = ("standalone_question", "mode", "refused", "citations")
    return {k: m.data[k] for k in keys if k in m.data}


def models(args) -> int:
    from rag.answer.models import discover

    found = discover(include_servers=not args.no_servers)
    if args.json:
        say(json.dumps([m.to_dict() for m in found], indent=2))
        return 0
    for m in found:
        place = m.path or m.url or ""
        say(f"{m.kind:8} {m.label}")
        say(f"         {place}")
    return 0
