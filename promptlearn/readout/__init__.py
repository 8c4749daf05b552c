"""Readouts: hidden states -> class scores (label words at the mask, heads, warp)."""
