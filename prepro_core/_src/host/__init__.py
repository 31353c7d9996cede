"""The host seam: strings and bytes in, integer arrays out. NumPy only; never imports jax."""
