"""Turning files into indexed chunks: load, chunk, manifest, pipeline."""
