"""Source code in other languages than Python, split with tree-sitter into its functions,
classes and methods, with their names and lines.

The grammars come from their own PyPI wheels (`tree-sitter-javascript` ...), which work offline
(the 1.x `tree-sitter-language-pack` downloads grammars at run time, so it is not used). Trees
are walked with an explicit stack, never recursively and never through `str(node)` (which
crashes on trees some 20,000 levels deep): a hostile file is bounded by the parse worker's
limits. The per-language node types are the table in `ingest.formats.code.languages`; they and
this walker were measured per language in issue 12's notes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ingest.formats.code.languages import LANGS

_parsers: dict = {}


def get_parser(lang: str):
    from tree_sitter import Language, Parser

    if lang not in _parsers:
        cfg = LANGS[lang]
        mod = importlib.import_module(cfg["module"])
        _parsers[lang] = Parser(Language(getattr(mod, cfg["func"])()))
    return _parsers[lang]


@dataclass
class Definition:
    kind: str
    name: str
    start_line: int  # 1-based
    end_line: int  # 1-based, inclusive
    node_type: str
    parent: str | None = None


def _text(n) -> str:
    return n.text.decode("utf8", "replace") if n is not None else ""


def _end_line(n) -> int:
    row, col = n.end_point
    # A node ending at column 0 ends on the previous line (its trailing newline).
    if col == 0 and row > n.start_point[0]:
        return row
    return row + 1


# ----------------------------- name extraction ----------------------------------------

_C_NAME_LEAVES = {
    "identifier",
    "field_identifier",
    "qualified_identifier",
    "operator_name",
    "destructor_name",
    "type_identifier",
    "template_function",
}


def _c_declarator_name(n: object | None) -> tuple[str, object | None]:
    """Follow C/C++ declarator chain (pointer_declarator -> function_declarator -> ...)."""
    while n is not None:
        if n.type in _C_NAME_LEAVES:
            return _text(n), n
        if n.type == "parenthesized_declarator":
            n = n.named_children[0] if n.named_children else None
            continue
        nxt = n.child_by_field_name("declarator")
        if nxt is None:
            return "", None
        n = nxt
    return "", None


def _has_function_declarator(n: object | None) -> bool:
    while n is not None:
        if n.type == "function_declarator":
            return True
        if n.type == "parenthesized_declarator":
            n = n.named_children[0] if n.named_children else None
            continue
        n = n.child_by_field_name("declarator")
    return False


def _name(lang: str, n) -> str:
    t = n.type
    if lang in ("c", "cpp") and t in ("function_definition", "field_declaration"):
        return _c_declarator_name(n.child_by_field_name("declarator"))[0]
    if lang == "rust" and t == "impl_item":
        ty = _text(n.child_by_field_name("type"))
        tr = n.child_by_field_name("trait")
        return f"{_text(tr)} for {ty}" if tr is not None else ty
    if lang == "sql":
        if t == "create_index":
            col = n.child_by_field_name("column")
            if col is not None:
                return _text(col)
        for c in n.named_children:
            if c.type == "object_reference":
                return _text(c)
        return ""
    if lang == "c_sharp" and t == "destructor_declaration":
        return "~" + _text(n.child_by_field_name("name"))
    if lang == "c_sharp" and t in ("operator_declaration", "conversion_operator_declaration"):
        op = n.child_by_field_name("operator") or n.child_by_field_name("type")
        return "operator " + _text(op)
    nm = n.child_by_field_name("name")
    return _text(nm)


def _go_receiver_type(n) -> str:
    recv = n.child_by_field_name("receiver")
    if recv is None:
        return ""
    for p in recv.named_children:
        if p.type == "parameter_declaration":
            ty = p.child_by_field_name("type")
            while ty is not None and ty.type in ("pointer_type", "generic_type"):
                ty = (
                    ty.named_children[0]
                    if ty.type == "pointer_type"
                    else ty.child_by_field_name("type")
                )
            return _text(ty)
    return ""


_GO_TYPE_KINDS = {"struct_type": "struct", "interface_type": "interface"}
_JS_FUNC_VALUES = {"arrow_function", "function_expression", "function", "generator_function"}
_JS_CLASS_VALUES = {"class"}


# ----------------------------------- walker -------------------------------------------


def extract(lang: str, root, descend_errors: bool = True) -> list[Definition]:
    cfg = LANGS[lang]
    defs_map, passthrough = cfg["defs"], cfg["passthrough"]
    scopes, namespaces = cfg["scopes"], cfg["namespaces"]
    out: list[Definition] = []

    def emit(kind, name, node, prefix, in_scope):
        if kind == "function" and in_scope:
            kind = "method"
        q = f"{prefix}.{name}" if prefix and name else (name or prefix)
        out.append(
            Definition(kind, q, node.start_point[0] + 1, _end_line(node), node.type, prefix or None)
        )
        return q

    # explicit stack instead of recursion: (node, prefix, in_scope)
    stack = [(c, "", False) for c in reversed(root.named_children)]
    while stack:
        n, prefix, in_scope = stack.pop()
        t = n.type
        kind = defs_map.get(t)

        # ---- language specific special cases ----
        if lang in ("javascript", "typescript", "tsx"):
            if t in ("lexical_declaration", "variable_declaration"):
                for d in n.named_children:
                    if d.type != "variable_declarator":
                        continue
                    v = d.child_by_field_name("value")
                    if v is not None and v.type in _JS_FUNC_VALUES:
                        emit("function", _text(d.child_by_field_name("name")), n, prefix, in_scope)
                    elif v is not None and v.type in _JS_CLASS_VALUES:
                        q = emit("class", _text(d.child_by_field_name("name")), n, prefix, False)
                        body = v.child_by_field_name("body")
                        if body is not None:
                            stack.extend((c, q, True) for c in reversed(body.named_children))
                continue
            if t in ("field_definition", "public_field_definition") and in_scope:
                v = n.child_by_field_name("value")
                if v is not None and v.type in _JS_FUNC_VALUES:
                    nm = n.child_by_field_name("property") or n.child_by_field_name("name")
                    emit("function", _text(nm), n, prefix, in_scope)
                continue
            if t == "export_statement":
                v = n.child_by_field_name("value")
                if v is not None and v.type in _JS_FUNC_VALUES | _JS_CLASS_VALUES:
                    k = "class" if v.type == "class" else "function"
                    q = emit(
                        k, _text(v.child_by_field_name("name")) or "default", n, prefix, in_scope
                    )
                    body = v.child_by_field_name("body") if k == "class" else None
                    if body is not None:
                        stack.extend((c, q, True) for c in reversed(body.named_children))
                    continue
            if t in ("function_signature",):  # TS overload signatures: skip
                continue
        if lang == "go":
            if t == "method_declaration":
                emit("method", _text(n.child_by_field_name("name")), n, _go_receiver_type(n), False)
                continue
            if t == "type_spec":
                ty = n.child_by_field_name("type")
                k = _GO_TYPE_KINDS.get(ty.type if ty is not None else "", "type")
                emit(k, _text(n.child_by_field_name("name")), n, prefix, False)
                continue
            if t in ("var_declaration", "const_declaration"):
                for spec in n.named_children:
                    val = spec.child_by_field_name("value")
                    if (
                        val is not None
                        and val.named_child_count == 1
                        and val.named_children[0].type == "func_literal"
                    ):
                        emit(
                            "function", _text(spec.child_by_field_name("name")), spec, prefix, False
                        )
                continue
        if lang in ("c", "cpp"):
            if (
                t in ("struct_specifier", "union_specifier", "enum_specifier", "class_specifier")
                and n.child_by_field_name("body") is None
            ):
                continue  # forward declaration / type use
            if t == "declaration":
                ty = n.child_by_field_name("type")  # e.g. struct S {...} s;
                if ty is not None and ty.child_by_field_name("body") is not None:
                    stack.append((ty, prefix, in_scope))
                continue
            if t == "type_definition":
                ty = n.child_by_field_name("type")
                if ty is not None and ty.child_by_field_name("body") is not None:
                    nm = (
                        _text(ty.child_by_field_name("name"))
                        or _c_declarator_name(n.child_by_field_name("declarator"))[0]
                    )
                    k = defs_map.get(ty.type, "type")
                    q = emit(k, nm, ty, prefix, False)
                    if k in scopes:
                        body = ty.child_by_field_name("body")
                        stack.extend((c, q, True) for c in reversed(body.named_children))
                continue
            if t == "field_declaration":
                if (
                    lang == "cpp"
                    and in_scope
                    and _has_function_declarator(n.child_by_field_name("declarator"))
                ):
                    emit("function", _name(lang, n), n, prefix, True)
                continue
            if t == "function_definition" and lang == "cpp":
                nm, leaf = _c_declarator_name(n.child_by_field_name("declarator"))
                if leaf is not None and leaf.type == "qualified_identifier" and not in_scope:
                    scope_txt, _, short = nm.rpartition("::")
                    emit(
                        "method",
                        short,
                        n,
                        ".".join(filter(None, [prefix, scope_txt.replace("::", ".")])),
                        False,
                    )
                    continue
        if (
            lang == "php" and t == "namespace_definition" and n.child_by_field_name("body") is None
        ) or (lang == "c_sharp" and t == "file_scoped_namespace_declaration"):
            # `namespace Foo;` statement form: applies to the rest of the file
            emit("namespace", _name(lang, n), n, "", False)
            ns = _name(lang, n).replace("\\", ".")  # PHP App\\Shop -> App.Shop
            rest = []
            sib = n.next_named_sibling
            while sib is not None:
                rest.append(sib)
                sib = sib.next_named_sibling
            # replace remaining siblings already on the stack with prefixed versions
            ids = {s.id for s in rest}
            stack[:] = [e for e in stack if e[0].id not in ids]
            stack.extend((c, ns, False) for c in reversed(rest))
            continue
        if lang == "rust" and t == "impl_item":
            # report the impl block, qualify its methods with the implementing type only
            emit("impl", _name(lang, n), n, prefix, False)
            ty = _text(n.child_by_field_name("type"))
            body = n.child_by_field_name("body")
            if body is not None:
                q = f"{prefix}.{ty}" if prefix else ty
                stack.extend((c, q, True) for c in reversed(body.named_children))
            continue
        if lang == "ruby" and t == "singleton_class":
            stack.extend((c, prefix, in_scope) for c in reversed(n.named_children))
            continue

        # ---- generic handling ----
        if kind is not None:
            q = emit(kind, _name(lang, n), n, prefix, in_scope)
            if kind in scopes or kind in namespaces:
                body = n.child_by_field_name("body")
                if body is None:  # e.g. ruby class, rust impl use "body"; fallbacks
                    body = next((c for c in n.named_children if c.type in passthrough), None)
                if body is not None:
                    stack.extend(
                        (c, q if kind in scopes else q.replace("::", "."), kind in scopes)
                        for c in reversed(body.named_children)
                    )
            continue
        if t in passthrough or (t == "ERROR" and descend_errors):
            stack.extend((c, prefix, in_scope) for c in reversed(n.named_children))
    return out


def definitions(lang: str, source: bytes) -> tuple[list[Definition], bool]:
    """The definitions in `source`, and whether the parse met syntax errors (tree-sitter
    recovers from them: most definitions are still found)."""
    tree = get_parser(lang).parse(source)
    return extract(lang, tree.root_node), tree.root_node.has_error
