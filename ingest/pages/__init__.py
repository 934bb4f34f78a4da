"""Pages as pictures: PDFium rendering within a pixel budget, OCR with word boxes, the boxes
kept for highlighting, and a quote highlighted on its page."""
