"""What the installed NumPy does where releases differ, found by trying it (not by version number),
for the tests that are about one release's behaviour to skip elsewhere and say why."""

from __future__ import annotations

import warnings

import numpy as np


def _raises(action, error: type[Exception]) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            action()
        except error:
            return True
    return False


def refuses_arrays_as_numbers() -> bool:
    """float() of an array with axes raises (NumPy 2.4 on; 1.25 to 2.3 warn, 1.24 accepts)."""
    return _raises(lambda: float(np.zeros((1, 1))), TypeError)


def raises_on_shapes_that_do_not_broadcast() -> bool:
    """== of arrays whose shapes do not broadcast raises (1.25 on; 1.24 warns, and answers False)."""
    return _raises(lambda: np.zeros((2, 3)) == np.zeros((2, 4)), ValueError)
