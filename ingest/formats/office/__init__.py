"""Office files: documents (Word, OpenDocument text, RTF), slides (PowerPoint, OpenDocument
presentations) and sheets (Excel, OpenDocument spreadsheets, CSV, TSV)."""
