"""The languages tree-sitter splits (`ingest.formats.code.treesitter`): per language, its grammar's
wheel and the node types that are definitions; data only.

Measured per language in issue 12's notes (JavaScript, TypeScript, Go, Rust, Java, C, C++, C#,
Ruby, PHP, shell and SQL).
"""

from __future__ import annotations

# Per language:
#   defs:        node type -> kind. kind "function" becomes "method" inside a class scope.
#   scopes:      kinds whose body is descended into and whose children are methods.
#   namespaces:  kinds whose body is descended into; children keep their own kind
#                (functions stay functions) but get the namespace as name prefix.
#   passthrough: node types that are not definitions themselves but may contain them
#                (export wrappers, bodies, templates, preprocessor blocks, ...).

JS_DEFS = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "class_declaration": "class",
    "method_definition": "function",
}
JS_PASS = {"export_statement", "class_body", "statement_block"}
TS_DEFS = dict(
    JS_DEFS,
    **{
        "abstract_class_declaration": "class",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "type_alias_declaration": "type",
        "internal_module": "namespace",  # namespace Foo { ... }
        "module": "namespace",  # declare module "x" { ... }
        "method_signature": "function",  # inside interfaces
        "abstract_method_signature": "function",
    },
)
TS_PASS = JS_PASS | {"interface_body", "ambient_declaration", "expression_statement"}

C_PASS = {
    "preproc_if",
    "preproc_ifdef",
    "preproc_else",
    "preproc_elif",
    "type_definition",
    "declaration",
}

LANGS = {
    "javascript": dict(
        module="tree_sitter_javascript",
        func="language",
        exts=[".js", ".mjs", ".cjs", ".jsx"],
        defs=JS_DEFS,
        passthrough=JS_PASS,
        scopes={"class"},
        namespaces=set(),
    ),
    "typescript": dict(
        module="tree_sitter_typescript",
        func="language_typescript",
        exts=[".ts", ".mts", ".cts"],
        defs=TS_DEFS,
        passthrough=TS_PASS,
        scopes={"class", "interface"},
        namespaces={"namespace"},
    ),
    "tsx": dict(
        module="tree_sitter_typescript",
        func="language_tsx",
        exts=[".tsx"],
        defs=TS_DEFS,
        passthrough=TS_PASS,
        scopes={"class", "interface"},
        namespaces={"namespace"},
    ),
    "go": dict(
        module="tree_sitter_go",
        func="language",
        exts=[".go"],
        defs={
            "function_declaration": "function",
            "method_declaration": "method",
            "type_spec": "type",
            "type_alias": "type",
        },
        passthrough={"type_declaration"},
        scopes=set(),
        namespaces=set(),
    ),
    "rust": dict(
        module="tree_sitter_rust",
        func="language",
        exts=[".rs"],
        defs={
            "function_item": "function",
            "function_signature_item": "function",
            "struct_item": "struct",
            "enum_item": "enum",
            "union_item": "union",
            "trait_item": "trait",
            "impl_item": "impl",
            "mod_item": "module",
            "macro_definition": "macro",
            "type_item": "type",
        },
        passthrough={"declaration_list"},
        scopes={"trait", "impl"},
        namespaces={"module"},
    ),
    "java": dict(
        module="tree_sitter_java",
        func="language",
        exts=[".java"],
        defs={
            "class_declaration": "class",
            "interface_declaration": "interface",
            "enum_declaration": "enum",
            "record_declaration": "record",
            "annotation_type_declaration": "interface",
            "method_declaration": "function",
            "constructor_declaration": "function",
            "compact_constructor_declaration": "function",
        },
        passthrough={
            "class_body",
            "interface_body",
            "enum_body",
            "enum_body_declarations",
            "annotation_type_body",
        },
        scopes={"class", "interface", "enum", "record"},
        namespaces=set(),
    ),
    "c": dict(
        module="tree_sitter_c",
        func="language",
        exts=[".c", ".h"],
        defs={
            "function_definition": "function",
            "struct_specifier": "struct",
            "union_specifier": "union",
            "enum_specifier": "enum",
        },
        passthrough=C_PASS,
        scopes=set(),
        namespaces=set(),
    ),
    "cpp": dict(
        module="tree_sitter_cpp",
        func="language",
        exts=[".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx"],
        defs={
            "function_definition": "function",
            "class_specifier": "class",
            "struct_specifier": "struct",
            "union_specifier": "union",
            "enum_specifier": "enum",
            "namespace_definition": "namespace",
            "field_declaration": "function",
        },  # only when it declares a method
        passthrough=C_PASS
        | {
            "template_declaration",
            "declaration_list",
            "field_declaration_list",
            "linkage_specification",
        },
        scopes={"class", "struct", "union"},
        namespaces={"namespace"},
    ),
    "c_sharp": dict(
        module="tree_sitter_c_sharp",
        func="language",
        exts=[".cs"],
        defs={
            "class_declaration": "class",
            "struct_declaration": "struct",
            "interface_declaration": "interface",
            "enum_declaration": "enum",
            "record_declaration": "record",
            "namespace_declaration": "namespace",
            "file_scoped_namespace_declaration": "namespace",
            "method_declaration": "function",
            "constructor_declaration": "function",
            "destructor_declaration": "function",
            "operator_declaration": "function",
            "conversion_operator_declaration": "function",
            "local_function_statement": "function",
        },
        passthrough={"declaration_list"},
        scopes={"class", "struct", "interface", "record"},
        namespaces={"namespace"},
    ),
    "ruby": dict(
        module="tree_sitter_ruby",
        func="language",
        exts=[".rb"],
        defs={
            "class": "class",
            "module": "module",
            "method": "function",
            "singleton_method": "function",
        },
        passthrough={"body_statement", "singleton_class"},
        scopes={"class", "module"},
        namespaces=set(),
    ),
    "php": dict(
        module="tree_sitter_php",
        func="language_php",
        exts=[".php"],
        defs={
            "class_declaration": "class",
            "interface_declaration": "interface",
            "trait_declaration": "trait",
            "enum_declaration": "enum",
            "namespace_definition": "namespace",
            "function_definition": "function",
            "method_declaration": "function",
        },
        passthrough={"declaration_list", "enum_declaration_list", "compound_statement"},
        scopes={"class", "interface", "trait", "enum"},
        namespaces={"namespace"},
    ),
    "bash": dict(
        module="tree_sitter_bash",
        func="language",
        exts=[".sh", ".bash"],
        defs={"function_definition": "function"},
        passthrough=set(),
        scopes=set(),
        namespaces=set(),
    ),
    "sql": dict(
        module="tree_sitter_sql",
        func="language",
        exts=[".sql"],
        defs={
            "create_table": "table",
            "create_view": "view",
            "create_materialized_view": "view",
            "create_function": "function",
            "create_procedure": "procedure",
            "create_index": "index",
            "create_trigger": "trigger",
            "create_type": "type",
            "create_schema": "schema",
        },
        passthrough={"statement", "transaction", "block"},
        scopes=set(),
        namespaces=set(),
    ),
}

EXT_TO_LANG = {ext: name for name, cfg in LANGS.items() for ext in cfg["exts"]}
