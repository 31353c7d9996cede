"""Adapting on the data of several JAX processes (multi-worker training).

``pc.distributed.adapt(transform, local_data)``, called on every process
after ``jax.distributed.initialize``, returns on every process the state one
``pc.adapt`` over all processes' data gives. With one process it is
``pc.adapt``. NumPy and jax only, like the rest of ``prepro_core``.
"""

from prepro_core._src.core.distributed import adapt

__all__ = ["adapt"]
