"""Quire: an offline assistant over your own notes, PDFs and code."""

__version__ = "0.1.0"
