"""Answering: generators, prompts, citations, stream guards, the answerer."""
