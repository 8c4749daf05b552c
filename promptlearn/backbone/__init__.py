"""The encoder: loading, fingerprints, the per-architecture table, mask-only layer, prefixes, adapters, quantization."""
