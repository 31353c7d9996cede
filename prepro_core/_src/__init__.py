"""prepro_core internals; the public API is re-exported by prepro_core/__init__.py."""
