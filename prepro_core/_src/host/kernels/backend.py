"""The one switch for which host kernels run, and the one thread pool.

Each family of host kernels (``"text"``, ``"farmhash"``) exists twice, with the
same function names and signatures and the same results: ``numpy_<family>.py``
and ``numba_<family>.py`` (compiled loops, ``pip install 'prepro[fast]'``).
``"auto"`` (the default) uses numba's when numba is installed and NumPy's
otherwise; ``"numpy"`` and ``"numba"`` force one.

The choice is made with :func:`host_kernels` (``pc.host_kernels``), a context
manager over a context variable, so a setting never leaks out of its ``with``
block nor into other threads:

  >>> import prepro_core as pc
  >>> from prepro_core._src.host.kernels import backend
  >>> with pc.host_kernels("numpy", num_threads=1):
  ...   print(backend.settings())
  Settings(backend='numpy', num_threads=1)
  >>> backend.settings().backend
  'auto'
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import importlib
import os
import threading
from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence

BACKENDS = ("auto", "numpy", "numba")
FAMILIES = ("text", "farmhash")
# Below this many rows a worker thread costs more than it saves.
ROWS_PER_THREAD = 1 << 15
_MAX_THREADS = 8
_POOL_PREFIX = "prepro-host"


class Settings(NamedTuple):
  backend: str = "auto"
  num_threads: Optional[int] = None  # None: the CPUs this process may use, at most 8


_SETTINGS = contextvars.ContextVar("prepro_host_kernels", default=Settings())


@contextlib.contextmanager
def host_kernels(backend: str = "auto",
                 num_threads: Optional[int] = None) -> Iterator[Settings]:
  """Chooses the host kernels (and their threads) inside a ``with`` block.

  Args:
    backend: ``"auto"`` (numba's kernels when numba is installed, else
      NumPy's), ``"numpy"`` or ``"numba"``. Both give the same results.
    num_threads: threads the kernels may split a large batch over (the numba
      kernels release the GIL). ``None``: the CPUs this process may use, at
      most 8. Use 1 when many pipeline workers already keep the cores busy.

  Raises:
    ValueError: an unknown ``backend`` or ``num_threads`` below 1.
    ImportError: ``backend="numba"`` without numba installed.
  """
  if backend not in BACKENDS:
    raise ValueError(
        f"host_kernels: `backend` must be one of {BACKENDS}, got {backend!r}.")
  if num_threads is not None and (
      isinstance(num_threads, bool) or not isinstance(num_threads, int)
      or num_threads < 1):
    raise ValueError(
        f"host_kernels: `num_threads` must be None or an int >= 1, got "
        f"{num_threads!r}.")
  if backend == "numba" and _numba_module("text") is None:
    raise ImportError(
        "host_kernels: backend='numba' needs numba; pip install 'prepro[fast]'.")
  token = _SETTINGS.set(Settings(backend, num_threads))
  try:
    yield _SETTINGS.get()
  finally:
    _SETTINGS.reset(token)


def settings() -> Settings:
  """The settings in force in this context."""
  return _SETTINGS.get()


# Kernel modules once imported, by module name; None when numba is missing.
_MODULES: dict = {}


def _import(name: str):
  if name not in _MODULES:
    try:
      _MODULES[name] = importlib.import_module(
          f"prepro_core._src.host.kernels.{name}")
    except ImportError:
      _MODULES[name] = None
  return _MODULES[name]


def _numba_module(family: str):
  return _import(f"numba_{family}")


def numba_kernels(family: str):
  """The numba kernels of ``family`` when the settings choose them, else None."""
  if family not in FAMILIES:
    raise ValueError(f"numba_kernels: unknown kernel family {family!r}.")
  if _SETTINGS.get().backend == "numpy":
    return None
  return _numba_module(family)


def kernels(family: str):
  """The kernels module of ``family`` the settings choose: numba's or NumPy's.

  Both modules define the same functions with the same signatures (a test
  checks it), so callers never ask which one they got.
  """
  return numba_kernels(family) or _import(f"numpy_{family}")


def num_threads(rows: int) -> int:
  """How many threads to split ``rows`` rows over (1 for small inputs)."""
  cap = _SETTINGS.get().num_threads
  if cap is None:
    cap = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
           else os.cpu_count() or 1)
    cap = min(cap, _MAX_THREADS)
  return max(1, min(cap, rows // ROWS_PER_THREAD))


_POOL: Optional[concurrent.futures.ThreadPoolExecutor] = None
_POOL_LOCK = threading.Lock()


def pool() -> concurrent.futures.ThreadPoolExecutor:
  """The worker threads every host kernel shares, made on first use."""
  global _POOL
  with _POOL_LOCK:
    if _POOL is None:
      _POOL = concurrent.futures.ThreadPoolExecutor(
          _MAX_THREADS, thread_name_prefix=_POOL_PREFIX)
  return _POOL


def in_pool() -> bool:
  """Whether this thread is one of the pool's (which must not wait on it)."""
  return threading.current_thread().name.startswith(_POOL_PREFIX)


def split_run(kernel: Callable[..., Any], sliced: Sequence[Any],
              *args: Any) -> tuple[list, list]:
  """``kernel(*[a[lo:hi] for a in sliced], *args)`` over consecutive ranges of
  rows, on the pool's threads for large inputs.

  Returns:
    The ranges' first rows and the kernel's results, in order.
  """
  n = sliced[0].shape[0]
  t = 1 if in_pool() else num_threads(n)  # a pool thread waiting on the pool could deadlock
  starts = [n * j // t for j in range(t + 1)]

  def part(j):
    return kernel(*[a[starts[j]:starts[j + 1]] for a in sliced], *args)

  futures = [pool().submit(part, j) for j in range(1, t)]
  results = [part(0)] + [f.result() for f in futures]
  return starts[:-1], results
