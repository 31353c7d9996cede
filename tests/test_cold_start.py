"""Cold start of the host string kernels: under ``"auto"`` a small first call
runs NumPy's twins (numba is not even imported), a large one loads numba's,
and a compile that numba's cache cannot spare is announced once."""
import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

import prepro_core as pc
from prepro_core._src.host.kernels import backend

pytest.importorskip("numba")

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code: str, **env) -> subprocess.CompletedProcess:
  """Runs ``code`` in a fresh Python process (the repository on its path)."""
  environ = dict(os.environ, JAX_PLATFORMS="cpu", **env)
  environ["PYTHONPATH"] = os.pathsep.join(
      [_ROOT] + [p for p in [environ.get("PYTHONPATH")] if p])
  out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                       capture_output=True, text=True, env=environ,
                       timeout=600, check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  return out


_LAYERS = """
import json, sys
import numpy as np
import prepro_core as pc
from prepro_core._src.host.kernels import backend

DOCS = ["The quick brown fox!", "jumps over the lazy dog.", "a b c"] * 5

def outputs():
  tv = pc.text_vectorization(output_sequence_length=6)
  sl = pc.string_lookup(num_oov_indices=2)
  words = np.array(" ".join(DOCS).split())
  h = pc.hashing(num_bins=97)
  return [np.asarray(tv.apply(pc.adapt(tv, DOCS), DOCS)).tolist(),
          pc.get_vocabulary(pc.adapt(tv, DOCS)),
          np.asarray(sl.apply(pc.adapt(sl, words[:9]), words)).tolist(),
          np.asarray(h.apply(h.init(words), words)).tolist()]
"""


def test_small_first_calls_skip_numba_with_the_same_bits():
  out = _run(_LAYERS + """
small = outputs()
report = {"numba_after_small": "numba" in sys.modules}
big = np.array(["w%d" % (i % 5000) for i in range(backend.NUMBA_MIN_ROWS)])
pc.hashing(num_bins=7).apply(None, big)
report["numba_after_large"] = "numba" in sys.modules
report["farmhash_is_numba"] = backend.kernels("farmhash").__name__.endswith(
    "numba_farmhash")
with pc.host_kernels("numba"):
  report["same_bits"] = outputs() == small
print(json.dumps(report))
""")
  report = json.loads(out.stdout.strip().splitlines()[-1])
  assert report == {"numba_after_small": False, "numba_after_large": True,
                    "farmhash_is_numba": True, "same_bits": True}


def test_a_compile_is_announced_once_and_a_cache_hit_never(tmp_path):
  # The smallest kernel, compiled for real into an empty cache, then loaded
  # from it by a second process.
  code = """
import numpy as np
import prepro_core as pc
from prepro_core._src.host.kernels import backend
with pc.host_kernels("numba"):
  k = backend.kernels("text")
  for _ in range(2):
    k.pad_rows(np.arange(3), np.array([0, 1, 3]), 2, 0)
print("done")
"""
  for expected in (1, 0):
    out = _run(code, NUMBA_CACHE_DIR=str(tmp_path))
    lines = [l for l in out.stderr.splitlines() if "compiling the numba" in l]
    assert len(lines) == expected, out.stderr
    assert all("'text'" in l and str(tmp_path) in l for l in lines)


def _fake_compile(fn):
  """Fires numba's compile event for ``fn`` without compiling anything."""
  from numba.core import event  # pylint: disable=import-outside-toplevel
  with event.trigger_event("numba:compile", data={
      "dispatcher": fn, "args": (), "return_type": None}):
    pass


def test_compile_note_logs_once_per_family(monkeypatch, caplog):
  with pc.host_kernels("numba"):
    text = backend.kernels("text")
    farm = backend.kernels("farmhash")
  monkeypatch.setattr(backend, "_NOTED", set())
  with caplog.at_level(logging.WARNING, logger="prepro_core"):
    _fake_compile(text.keys)
    _fake_compile(text.pad_rows)
    assert len(caplog.records) == 1
    assert "'text'" in caplog.records[0].getMessage()
    _fake_compile(farm.fingerprint64_packed)
    assert len(caplog.records) == 2
    import numba  # pylint: disable=import-outside-toplevel
    _fake_compile(numba.njit(lambda x: x))  # not ours: no note
    assert len(caplog.records) == 2


def test_auto_loads_numba_once_enough_rows_were_seen(monkeypatch):
  monkeypatch.setattr(backend, "_MODULES", {})
  monkeypatch.setattr(backend, "_ROWS_SEEN", dict.fromkeys(backend.FAMILIES,
                                                           0))
  monkeypatch.setattr(backend, "_NOTED", {"text", "farmhash"})
  half = backend.NUMBA_MIN_ROWS // 2
  assert backend.numba_kernels("text", rows=half) is None
  assert backend.numba_kernels("text") is None  # no rows: follows the state
  assert backend.numba_kernels("text", rows=half) is not None  # in all
  assert backend.numba_kernels("text", rows=1) is not None  # loaded: stays
  assert backend.numba_kernels("farmhash", rows=1) is None  # per family
