"""Data: examples and their files, and few-shot sampling."""
