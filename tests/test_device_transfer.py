"""pc.to_device and pc.adapt's staging of NumPy batches on the CPU backend."""
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.core import device_transfer

ROWS = 9000  # 9000 x 32 float32 is 1.1 MiB: above the staging threshold.


def _unaligned(shape, dtype=np.float32, seed=0):
  """A C-contiguous array whose data starts 16 bytes past a 64-byte line."""
  n = int(np.prod(shape)) * np.dtype(dtype).itemsize
  raw = np.empty(n + 128, np.uint8)
  start = (-raw.ctypes.data % 64) + 16
  out = raw[start:start + n].view(dtype).reshape(shape)
  out[...] = np.random.default_rng(seed).normal(3.0, 2.0, shape).astype(dtype)
  assert out.ctypes.data % 64 == 16 and out.flags.c_contiguous
  return out


@pytest.fixture
def device_put_args(monkeypatch):
  """Records the host arrays that to_device hands to jax.device_put."""
  seen = []
  real = jax.device_put

  def recording(x, *args, **kwargs):
    seen.append(x)
    return real(x, *args, **kwargs)

  monkeypatch.setattr(device_transfer.jax, "device_put", recording)
  return seen


def test_large_unaligned_array_is_staged_aligned(device_put_args):
  x = _unaligned((ROWS, 32))
  y = pc.to_device(x)
  assert isinstance(y, jax.Array) and y.dtype == jnp.float32
  np.testing.assert_array_equal(np.asarray(y), x)
  staged = device_put_args[-1]
  assert staged is not x
  assert staged.ctypes.data % 64 == 0 and staged.flags.c_contiguous


def test_result_does_not_see_later_writes_to_the_source():
  x = _unaligned((ROWS, 32))
  y = pc.to_device(x)
  before = np.asarray(y).copy()
  x[...] = -1.0
  np.testing.assert_array_equal(np.asarray(y), before)


@pytest.mark.parametrize("make", [
    lambda: np.arange(10, dtype=np.float32),                     # small
    lambda: _unaligned((ROWS, 32))[:, ::2],                      # strided
    lambda: _unaligned((ROWS, 32)).astype(np.float64),           # converted
])
def test_other_arrays_go_straight_to_device_put(make, device_put_args):
  x = make()
  y = pc.to_device(x)
  assert device_put_args[-1] is x
  np.testing.assert_array_equal(np.asarray(y), x.astype(y.dtype))


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.bool_,
                                   ml_dtypes.bfloat16])
def test_dtypes_and_shapes_round_trip(dtype):
  x = _unaligned((ROWS // 4, 8, 4, 4), np.float32).astype(dtype)
  x = np.ascontiguousarray(x)
  y = pc.to_device(x)
  assert y.dtype == x.dtype and y.shape == x.shape
  np.testing.assert_array_equal(np.asarray(y), x)


def test_pytree_of_batches():
  batch = {"image": _unaligned((ROWS, 32)), "label": np.arange(ROWS),
           "already": jnp.ones(3)}
  out = pc.to_device(batch)
  assert set(out) == set(batch)
  assert all(isinstance(v, jax.Array) for v in out.values())
  assert out["already"] is batch["already"]
  np.testing.assert_array_equal(np.asarray(out["label"]), batch["label"])


def test_strings_are_refused_with_a_pointer_to_the_host_transforms():
  with pytest.raises(TypeError, match="`batch` holds dtype <U"):
    pc.to_device(np.array(["a", "b"]))
  with pytest.raises(TypeError, match="string_lookup"):
    pc.to_device({"text": np.array([b"a"], dtype=object)})


def test_adapt_on_unaligned_numpy_equals_adapt_on_device(device_put_args):
  x = _unaligned((ROWS, 32))
  t = pc.normalization()
  from_numpy = pc.adapt(t, x)
  assert device_put_args and device_put_args[0].ctypes.data % 64 == 0
  from_device = pc.adapt(t, jnp.asarray(x))
  for a, b in zip(from_numpy, from_device):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  d = pc.discretization(num_bins=8)
  np.testing.assert_array_equal(pc.adapt(d, x[:, 0]).bin_boundaries,
                                pc.adapt(d, jnp.asarray(x[:, 0])).bin_boundaries)


def test_adapt_still_reports_nan_in_staged_batches():
  x = _unaligned((ROWS, 32))
  x[5, 3] = np.nan
  with pytest.raises(ValueError, match="1 NaN or infinite"):
    pc.adapt(pc.normalization(), x)
