"""prepro_core: Keras' preprocessing layers as pure, jittable JAX transforms.

Every transform is a factory returning a :class:`Transform` (a NamedTuple of
pure functions ``init/adapt/merge/apply``) whose state is a pytree.
"""

# The contract.
from prepro_core._src.base import adapt
from prepro_core._src.base import chain
from prepro_core._src.base import ChainState
from prepro_core._src.base import EmptyState
from prepro_core._src.base import get_vocabulary
from prepro_core._src.base import Transform

# Numeric and categorical.

# Lookups and strings (host-side string handling).

# Hashing.

# Images.

__version__ = "0.1.0"
