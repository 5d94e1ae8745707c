"""Imports every module that registers native codegen rules."""

from . import elemwise  # noqa: F401
from . import scalar_rules  # noqa: F401
from . import blas  # noqa: F401
from . import shape  # noqa: F401
from . import reduce  # noqa: F401
from . import indexing  # noqa: F401
from . import nn  # noqa: F401
from . import fused_reduce  # noqa: F401
