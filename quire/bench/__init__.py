"""Benchmarks behind BENCHMARKS.md: retrieval, answers, ingest, conversations."""
