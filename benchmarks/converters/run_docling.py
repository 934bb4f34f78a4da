"""docling adapter (all content layers: body + furniture + notes): DocumentConverter().convert(path).document; units = iterate_items() with
label, heading path, group chain, provenance (page_no) and table row counts."""
import os
from harness import main
CONV = None

def setup():
    global CONV
    from docling.document_converter import DocumentConverter
    CONV = DocumentConverter()

def convert(path):
    from docling_core.types.doc import SectionHeaderItem, TitleItem, TableItem, GroupItem, ContentLayer
    ALL = set(ContentLayer)
    res = CONV.convert(path, raises_on_error=True)
    doc = res.document
    units, hpath = [], []
    for item, level in doc.iterate_items(with_groups=True, included_content_layers=ALL):
        if isinstance(item, GroupItem):
            continue
        groups = []
        par = item.parent.resolve(doc) if item.parent else None
        while par is not None and isinstance(par, GroupItem):
            groups.append(f"{par.label}:{par.name}")
            par = par.parent.resolve(doc) if par.parent else None
        if isinstance(item, (SectionHeaderItem, TitleItem)):
            lvl = getattr(item, "level", 0) if isinstance(item, SectionHeaderItem) else 0
            del hpath[lvl:]
            hpath.extend([""] * (lvl - len(hpath)))
            hpath.append(item.text)
        if isinstance(item, TableItem):
            text = item.export_to_markdown(doc)
            extra = {"rows": item.data.num_rows, "cols": item.data.num_cols}
        else:
            text = getattr(item, "text", "") or ""
            extra = {}
        units.append({"text": text, "label": str(item.label), "layer": str(getattr(item, "content_layer", "")), "ref": item.self_ref,
                      "parent": item.parent.cref if item.parent else None, "groups": groups,
                      "heading_path": list(hpath), "heading_level": getattr(item, "level", None),
                      "pages": sorted({p.page_no for p in (item.prov or [])}), **extra})
    return doc.export_to_markdown(included_content_layers=ALL), units

if __name__ == "__main__":
    main(os.environ.get("CAND", "docling"), convert, setup)
