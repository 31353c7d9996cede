"""The host-kernel switch: twin kernel modules, and pc.host_kernels itself."""
import concurrent.futures
import importlib
import inspect

import pytest

import prepro_core as pc
from prepro_core._src.host.kernels import backend


def _public_functions(module, family: str) -> dict:
  """The public functions of a kernel module (numba's compiled ones
  included): those it defines, and those it takes from its twin (a kernel
  that needs no compiling), but not helpers imported from elsewhere."""
  twins = {f"{backend.__package__}.{impl}_{family}"
           for impl in ("numpy", "numba")}
  return {
      name: obj for name, obj in vars(module).items()
      if not name.startswith("_") and callable(obj) and
      not inspect.isclass(obj) and not inspect.ismodule(obj) and
      getattr(obj, "__module__", None) in twins
  }


def _kernels(name: str):
  return importlib.import_module(f"prepro_core._src.host.kernels.{name}")


@pytest.mark.parametrize("family", backend.FAMILIES)
def test_numpy_and_numba_kernels_are_twins(family):
  numba_fns = _public_functions(_kernels(f"numba_{family}"), family)
  numpy_fns = _public_functions(_kernels(f"numpy_{family}"), family)
  assert numba_fns, f"numba_{family} defines no kernels"
  assert sorted(numba_fns) == sorted(numpy_fns)
  for name, fn in numba_fns.items():
    assert inspect.signature(fn) == inspect.signature(numpy_fns[name]), name


@pytest.mark.parametrize("family", backend.FAMILIES)
def test_kernels_follow_the_setting(family):
  with pc.host_kernels("numpy"):
    assert backend.kernels(family) is _kernels(f"numpy_{family}")
    assert backend.numba_kernels(family) is None
  with pc.host_kernels("numba"):
    assert backend.kernels(family) is _kernels(f"numba_{family}")
  with pc.host_kernels("auto"):  # a large input loads numba's
    assert backend.kernels(family, rows=backend.NUMBA_MIN_ROWS) is _kernels(
        f"numba_{family}")
    assert backend.kernels(family) is _kernels(f"numba_{family}")


def test_bad_settings_name_the_argument():
  with pytest.raises(ValueError, match="`backend`"):
    with pc.host_kernels("cuda"):
      pass
  for bad in (0, -1, 1.5, True, "2"):
    with pytest.raises(ValueError, match="`num_threads`"):
      with pc.host_kernels(num_threads=bad):
        pass
  assert backend.settings() == backend.Settings()


def test_setting_stays_inside_the_with_block():
  before = backend.settings()
  with pc.host_kernels("numpy", num_threads=2) as s:
    assert s == backend.Settings("numpy", 2) == backend.settings()
    with pc.host_kernels("auto", num_threads=1):
      assert backend.settings() == backend.Settings("auto", 1)
    assert backend.settings() == s
  assert backend.settings() == before
  with pytest.raises(RuntimeError):
    with pc.host_kernels("numpy"):
      raise RuntimeError("boom")
  assert backend.settings() == before  # restored on errors too


def test_setting_does_not_leak_into_other_threads():
  with concurrent.futures.ThreadPoolExecutor(1) as ex:
    with pc.host_kernels("numpy", num_threads=1):
      seen = ex.submit(backend.settings).result()
  assert seen == backend.Settings()


def test_num_threads_caps_the_split():
  rows = 64 * backend.ROWS_PER_THREAD
  with pc.host_kernels(num_threads=1):
    assert backend.num_threads(rows) == 1
  with pc.host_kernels(num_threads=3):
    assert backend.num_threads(rows) == 3
    assert backend.num_threads(10) == 1  # small inputs stay on one thread
