"""The one switch for which host kernels run, and the one thread pool.

Each family of host kernels (``"text"``, ``"farmhash"``) exists twice, with the
same function names and signatures and the same results: ``numpy_<family>.py``
and ``numba_<family>.py`` (compiled loops, ``pip install 'prepro[fast]'``).
``"auto"`` (the default) uses numba's when numba is installed and NumPy's
otherwise; ``"numpy"`` and ``"numba"`` force one.

Under ``"auto"`` a process starts on NumPy's kernels: numba (its import and
the loading of compiled kernels take about 1 s even with a warm cache, and
compiling them takes tens of seconds with an empty one) is loaded by the
first call that brings at least :data:`NUMBA_MIN_ROWS` rows, or once the
family has seen that many rows in all, and used from then on. Small first
calls (a test, a notebook cell, a demo) never pay for it. When the kernels
must be compiled (nothing in numba's cache), the ``"prepro_core"`` logger
says so once per family, as a warning (shown without any logging set up).

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
import logging
import os
import threading
from typing import Any, Callable, Iterator, NamedTuple, Optional, Sequence

BACKENDS = ("auto", "numpy", "numba")
FAMILIES = ("text", "farmhash")
# Below this many rows a worker thread costs more than it saves.
ROWS_PER_THREAD = 1 << 15
_MAX_THREADS = 8
# Under "auto", numba's kernels load once a family has seen this many rows
# (documents, strings or tokens): NumPy's twins take 0.01-0.3 s on them,
# less than loading numba takes with a warm cache (~1 s).
NUMBA_MIN_ROWS = 1 << 15
# Rough first-compile times (s), for the log line.
_COMPILE_SECONDS = {"text": 20, "farmhash": 5}
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
    backend: ``"auto"`` (numba's kernels when numba is installed, once the
      process has brought them :data:`NUMBA_MIN_ROWS` rows; NumPy's until
      then or without numba), ``"numpy"`` or ``"numba"``. All give the same
      results.
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
# Rows each family has seen under "auto" before its numba kernels loaded.
_ROWS_SEEN = dict.fromkeys(FAMILIES, 0)
_LOCK = threading.Lock()
logger = logging.getLogger("prepro_core")


def _import(name: str):
  with _LOCK:
    if name not in _MODULES:
      try:
        module = importlib.import_module(
            f"prepro_core._src.host.kernels.{name}")
      except ImportError:
        module = None
      if module is not None and name.startswith("numba_"):
        _watch_compiles()
      _MODULES[name] = module
  return _MODULES[name]


def _numba_module(family: str):
  return _import(f"numba_{family}")


_NOTED: set = set()
_WATCHING: list = []


def _watch_compiles() -> None:
  """Has numba's event API (``"numba:compile"`` fires only when numba's
  disk cache has no entry) call :func:`note_compile` before a kernel of
  ours compiles."""
  if _WATCHING:
    return
  from numba.core import event  # pylint: disable=import-outside-toplevel

  class _Note(event.Listener):

    def on_start(self, ev):
      fn = ev.data.get("dispatcher")
      module = getattr(getattr(fn, "py_func", None), "__module__", "")
      family = module.rpartition(".numba_")[2]
      if module.startswith(__package__) and family in FAMILIES:
        note_compile(family, fn.stats.cache_path)

    def on_end(self, ev):
      pass

  _WATCHING.append(_Note())
  event.register("numba:compile", _WATCHING[0])


def note_compile(family: str, where: str) -> bool:
  """Logs, once per family, that its numba kernels are compiling (numba's
  cache in ``where`` has none for this source); returns whether it did."""
  if family in _NOTED:
    return False
  _NOTED.add(family)
  logger.warning(
      "prepro: compiling the numba %r host kernels, each once as first used "
      "(about %d s in all; cached in %s).", family,
      _COMPILE_SECONDS.get(family, 10), where)
  return True


def numba_kernels(family: str, rows: Optional[int] = None):
  """The numba kernels of ``family`` when the settings choose them, else None.

  Args:
    family: ``"text"`` or ``"farmhash"``.
    rows: the size of the input the caller is about to process. Under
      ``"auto"``, numba's kernels are loaded once the family has seen
      :data:`NUMBA_MIN_ROWS` rows (NumPy's run until then); without
      ``rows`` the call follows whichever is loaded.
  """
  if family not in FAMILIES:
    raise ValueError(f"numba_kernels: unknown kernel family {family!r}.")
  backend = _SETTINGS.get().backend
  if backend == "numpy":
    return None
  name = f"numba_{family}"
  if backend == "auto" and name not in _MODULES:
    with _LOCK:
      _ROWS_SEEN[family] += int(rows or 0)
      if _ROWS_SEEN[family] < NUMBA_MIN_ROWS:
        return None
  return _numba_module(family)


def load_numba_at_first_use() -> None:
  """Under ``"auto"``, loads numba's kernels at a family's first use instead
  of after :data:`NUMBA_MIN_ROWS` rows: for a long-lived process that
  applies transforms batch after batch (a loader worker), where the load
  (~1 s with a warm cache) is paid once, and a worker that only sees its
  share of the batches might otherwise run NumPy's twins throughout."""
  with _LOCK:
    for family in FAMILIES:
      _ROWS_SEEN[family] = max(_ROWS_SEEN[family], NUMBA_MIN_ROWS)


def kernels(family: str, rows: Optional[int] = None):
  """The kernels module of ``family`` the settings choose: numba's or NumPy's.

  Both modules define the same functions with the same signatures (a test
  checks it), so callers never ask which one they got. ``rows``: as for
  :func:`numba_kernels`.
  """
  return numba_kernels(family, rows) or _import(f"numpy_{family}")


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
