"""Prompt templates (text files) used by the answer step."""
