"""The resource kinds: one module per family, each Resource beside its provider."""
