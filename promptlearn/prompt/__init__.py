"""Prompts as text: pattern, verbalizer, PVP, presets, demonstrations (text -> ids, never models)."""
