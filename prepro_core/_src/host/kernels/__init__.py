"""Host kernels: numpy_*.py and numba_*.py twins with the same names and signatures."""
