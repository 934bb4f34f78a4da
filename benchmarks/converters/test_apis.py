"""Item 4: how the plain libraries expose comments, footnotes, notes, chart titles; trafilatura markdown."""
import io, re, zipfile, warnings
warnings.filterwarnings("ignore")
import docx, pptx, trafilatura
from pptx import Presentation
print("python-docx", docx.__version__ if hasattr(docx, "__version__") else "?", "| python-pptx", pptx.__version__,
      "| trafilatura", trafilatura.__version__)

# ---- python-docx comments / footnotes
d = docx.Document("fixtures/sample.docx")
print("\n[docx] Document.comments ->", type(d.comments).__name__)
for c in d.comments:
    print("  comment_id=%s author=%r initials=%r timestamp=%s text=%r" % (c.comment_id, c.author, c.initials, c.timestamp, c.text))
    print("  attrs:", [a for a in dir(c) if not a.startswith("_")])
print("  anchor: no API; found via w:commentRangeStart in body XML:",
      [el.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}id")
       for el in d.element.body.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}commentRangeStart")])
print("  footnotes attr on Document?", hasattr(d, "footnotes"), "| part rel types:",
      sorted({r.reltype.rsplit('/', 1)[-1] for r in d.part.rels.values()}))
fp = [p for p in d.part.package.iter_parts() if str(p.partname) == "/word/footnotes.xml"]
print("  footnotes part via package.iter_parts():", type(fp[0]).__name__ if fp else None,
      "-> must parse blob XML yourself; text:", re.findall(r"<w:t[^>]*>([^<]*)</w:t>", fp[0].blob.decode())[-1] if fp else None)
print("  footnoteReference run in body: present =",
      bool(list(d.element.body.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}footnoteReference"))),
      "| paragraph.text of that paragraph:", [p.text for p in d.paragraphs if "Footnoted" in p.text])
print("  headers/footers:", d.sections[0].header.paragraphs[0].text, "|", d.sections[0].footer.paragraphs[0].text)

# ---- python-pptx notes / chart titles
prs = Presentation("fixtures/sample.pptx")
print("\n[pptx]")
for i, s in enumerate(prs.slides, 1):
    notes = s.notes_slide.notes_text_frame.text if s.has_notes_slide else None
    charts = [sh.chart for sh in s.shapes if sh.has_chart]
    ct = [(c.has_title, c.chart_title.has_text_frame and c.chart_title.text_frame.text) for c in charts]
    print(f"  slide {i}: has_notes_slide={s.has_notes_slide} notes={notes!r} charts={ct}")
# auto-title chart: has_title True but no explicit text
from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE
from pptx.util import Inches
p2 = Presentation(); s = p2.slides.add_slide(p2.slide_layouts[6])
cd = CategoryChartData(); cd.categories = ["a", "b"]; cd.add_series("OnlySeries", (1, 2))
ch = s.shapes.add_chart(XL_CHART_TYPE.PIE, 0, 0, Inches(4), Inches(3), cd).chart
ch.has_title = True
print("  auto-titled chart: has_title=%s chart_title.has_text_frame=%s (displayed title would be the series name %r)"
      % (ch.has_title, ch.chart_title.has_text_frame, ch.series[0].name))
print("  note: accessing s.notes_slide on a slide without notes CREATES one; check has_notes_slide first")

# ---- trafilatura markdown
html = open("fixtures/sample.html").read()
for kw in [dict(output_format="markdown"),
           dict(output_format="markdown", include_tables=True, include_formatting=True),
           dict(output_format="txt", include_formatting=True),
           dict(output_format="txt")]:
    out = trafilatura.extract(html, **kw) or ""
    heads = re.findall(r"^(#{1,6}) (.*)$", out, re.M)
    print(f"\n[trafilatura {kw}] chars={len(out)} headings={[(len(h), t) for h, t in heads]} "
          f"table={'| State grant QXHTMLTABLE' in out} boilerplate={[m for m in ('QXCOOKIE','QXNAVLINK','QXSIDEBAR','QXFOOTER') if m in out]}"
          f" byline={'Dana Writer' in out}")
# h1 equal to <title>
html2 = html.replace("<title>Water Infrastructure Update</title>", "<title>Replacing Lead Pipes QXHTMLH1</title>")
out = trafilatura.extract(html2, output_format="markdown", include_tables=True)
print("\n[trafilatura, <title> == h1] first line:", out.splitlines()[0])
m = trafilatura.extract(html, output_format="json", with_metadata=True)
import json; j = json.loads(m); print("[trafilatura json metadata] title=%r author=%r date=%r" % (j.get("title"), j.get("author"), j.get("date")))
