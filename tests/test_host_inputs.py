"""The one input path (prepro_core/_src/host/inputs.py) and the host package's
boundary: the same input rules for every string transform, errors that name
the argument, the NumPy/numba kernel twins, and no jax import in host/."""

import inspect
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.host import inputs
from prepro_core._src.host.kernels import backend
from prepro_core._src.host.kernels import numpy_text

ROOT = pathlib.Path(__file__).resolve().parents[1]
STRS = ["", "a", "caf\u00e9", "\U0001F600x", "plain ascii", "a\x00b"]


def _tokens(tb):
  t = tb.tokens
  return [t.buf[s:e].tobytes() for s, e in zip(t.starts, t.ends)]


@pytest.mark.parametrize("x", [
    STRS, tuple(STRS), np.array(STRS), np.array(STRS, dtype=object),
    [s.encode() for s in STRS], np.array([s.encode() for s in STRS], "S"),
    [s.encode() if i % 2 else s for i, s in enumerate(STRS)],
    [np.str_(s) for s in STRS], pc.pack_strings(STRS)])
def test_every_input_form_packs_the_same(x):
  want = [s.encode() for s in STRS]
  for backend_name in ("numpy", "numba"):
    with pc.host_kernels(backend_name):
      tb = inputs.to_tokens(x)
      assert tb.shape == (len(STRS),)
      assert _tokens(tb) == want
      assert inputs.as_strings(x).tokens == STRS


def test_ranks_and_rows():
  assert inputs.to_tokens("a").shape == ()
  assert inputs.to_tokens([["a", b"b"], ["c", "d"]]).shape == (2, 2)
  tb = inputs.to_tokens([["a"], ["b", "c"]], allow_ragged=True)
  assert tb.shape is None and tb.tokens.row_splits.tolist() == [0, 1, 3]
  with pytest.raises(ValueError, match="`batch`.*different lengths"):
    inputs.to_tokens([["a"], ["b", "c"]], argname="batch")
  with pytest.raises(ValueError, match="rank 2"):
    inputs.to_tokens([[["a"]]])
  with pytest.raises(ValueError, match="mixes strings and rows"):
    inputs.to_tokens(["a", ["b"]])


@pytest.mark.parametrize("fn", [inputs.to_tokens, inputs.as_strings])
def test_errors_name_the_caller_and_argument(fn):
  with pytest.raises(TypeError, match=r"^lookup: `values` must hold strings"):
    fn(np.arange(3), where="lookup", argname="values")
  with pytest.raises(TypeError, match=r"^lookup: `values`.*type int"):
    fn(["a", 3], where="lookup", argname="values")
  with pytest.raises(ValueError, match=r"^lookup: `values` element 1 is not "
                     r"valid utf-8"):
    fn([b"ok", b"\xff"], where="lookup", argname="values")


def test_encode_errors_name_the_argument():
  for x in (["ok", "\ud800"], np.array(["ok", "a\udfffb"])):
    for backend_name in ("numpy", "numba"):
      with pc.host_kernels(backend_name):
        with pytest.raises(ValueError, match=r"^f: `docs`.*cannot be encoded "
                           r"as UTF-8"):
          inputs.to_tokens(x, where="f", argname="docs")


def test_raw_bytes_are_kept():
  rows = [b"\xff", "caf\u00e9", b"a\xc3"]
  tb = inputs.to_tokens(rows, raw=True)
  assert _tokens(tb) == [b"\xff", "caf\u00e9".encode(), b"a\xc3"]


@pytest.mark.parametrize("salt", [None, 7])
def test_hashing_accepts_mixed_str_and_bytes(salt):
  t = pc.hashing(num_bins=97, salt=salt)
  s = t.init(None)
  strs = ["a", "caf\u00e9", "word", ""]
  mixed = [w.encode() if i % 2 else w for i, w in enumerate(strs)]
  np.testing.assert_array_equal(np.asarray(t.apply(s, mixed)),
                                np.asarray(t.apply(s, strs)))
  lookup = pc.string_lookup(vocabulary=["a", "word"])
  np.testing.assert_array_equal(lookup.apply(lookup.init(None), mixed),
                                lookup.apply(lookup.init(None), strs))


def test_text_kernel_twins_have_the_same_interface():
  from prepro_core._src.host.kernels import numba_text  # numba is in the test extra
  fns = [n for n, f in vars(numpy_text).items()
         if callable(f) and not n.startswith("_") and
         getattr(f, "__module__", "") == numpy_text.__name__]
  for name in fns:
    twin = getattr(numba_text, name)
    f = getattr(numpy_text, name)
    py = getattr(twin, "py_func", twin)
    assert inspect.signature(py) == inspect.signature(f), name
  for name in ("CLASS_KEEP", "CLASS_STRIP", "LOWER", "SAME", "EMPTY"):
    assert getattr(numba_text, name) is getattr(numpy_text, name)


def test_text_kernel_twins_agree():
  docs = ["Hello, World!", "", "caf\u00e9 au lait", "  tabs\tand\nlines ",
          "x" * 20 + " y", "naïve-CAFÉ; ok."] * 5
  arr = np.array(docs)
  cps = arr.view(np.uint32).reshape(len(docs), -1)
  data = "\0".join(docs + [""]).encode()
  buf = np.frombuffer(data, np.uint8)
  ends = np.flatnonzero(buf == 0)
  begins = np.concatenate([[0], ends[:-1] + 1])
  out = {}
  for name in ("numpy", "numba"):
    with pc.host_kernels(name):
      k = backend.kernels("text")
      b, s, e, bad = k.pack_ucs4(cps)
      assert bad == -1
      packed = [b[i:j].tobytes() for i, j in zip(s, e)]
      tb, ts, te, rs = k.tokenize_whitespace(buf, begins, ends, True, True)
      toks = [tb[i:j].tobytes() for i, j in zip(ts, te)]
      keys = k.keys(tb, ts, te)
      out[name] = (packed, toks, rs.tolist(), keys.tolist(),
                   k.first_in_doc(keys, rs).tolist(),
                   k.pad_rows(np.arange(len(ts)), rs, 3, -1).tolist())
  assert out["numpy"] == out["numba"]


def test_host_package_imports_no_jax():
  # prepro_core/__init__.py imports jax, so the host modules are loaded with
  # `prepro_core` as a bare namespace package over the source folder.
  host = ROOT / "prepro_core" / "_src" / "host"
  mods = sorted(
      "prepro_core._src.host." + str(p.relative_to(host).with_suffix(""))
      .replace(os.sep, ".").replace(".__init__", "")
      for p in host.rglob("*.py") if p.name != "__init__.py" or p.parent != host)
  code = f"""
import importlib, sys, types
for name, sub in (("prepro_core", ""), ("prepro_core._src", "_src")):
  pkg = types.ModuleType(name)
  pkg.__path__ = [{str(ROOT / "prepro_core")!r} + ("/" + sub if sub else "")]
  sys.modules[name] = pkg
bad = []
for m in {mods!r}:
  try:
    importlib.import_module(m)
  except ImportError as e:
    if "numba" not in str(e):
      raise
  if "jax" in sys.modules:
    bad.append(m)
    break
print(bad)
assert not bad, bad
"""
  res = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, cwd=str(ROOT), check=False)
  assert res.returncode == 0, res.stdout + res.stderr
