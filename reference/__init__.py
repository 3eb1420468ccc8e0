"""The hidden reference implementations that submissions are graded against.

Three implementations with the same functions (cs231n's signatures):

- ``numpy_loops``: plain loops, the readable truth;
- ``numpy_fast``: im2col / col2im, vectorized;
- ``torch_ref``: torch.nn.functional and autograd, with a ``device`` keyword.

``wrong`` is the catalogue of known wrong variants used to name a student's
bug.  ``torch_ref`` is imported only when asked for, so numpy-only users
never import torch.
"""

from __future__ import annotations

import importlib

from . import numpy_fast, numpy_loops, wrong

__all__ = ["IMPLEMENTATIONS", "implementation", "numpy_fast", "numpy_loops", "torch_ref", "wrong"]

IMPLEMENTATIONS = ("numpy_loops", "numpy_fast", "torch_ref")


def implementation(name: str):
    """The reference module called ``name`` (one of IMPLEMENTATIONS)."""
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"unknown reference implementation {name!r}; expected one of {', '.join(IMPLEMENTATIONS)}")
    return importlib.import_module(f"{__name__}.{name}")


def __getattr__(name: str):
    # `grader.reference.torch_ref` imports torch on first use only
    if name == "torch_ref":
        return importlib.import_module(f"{__name__}.torch_ref")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
