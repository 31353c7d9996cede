"""Test set-up: 8 simulated CPU devices for the multi-device tests.

XLA reads XLA_FLAGS once, when jax initialises its backends, so it is set here,
before any test module imports jax.
"""
import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# With traceback filtering on, JAX's own errors look as if prepro raised them;
# the bad-input tests need to see where an error really came from.
os.environ.setdefault("JAX_TRACEBACK_FILTERING", "off")
