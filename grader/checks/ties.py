"""Max pooling at ties: every valid subgradient is right.

Max pooling is not differentiable where a window holds its maximum more than once.  Any
subgradient is a right backward there: each window's upstream gradient ``dout[w]`` may go
to its first tied maximum, its last, any one of them, or be split among them (cs231n's
own fast backward splits it), as long as it goes *only* to maxima and, per window, *sums*
to ``dout[w]``.  In symbols, ``dx`` is right when there are weights ``p[w, t] >= 0`` over
the tied maxima ``t`` of each window ``w`` with ``sum_t p[w, t] = 1`` and

    dx[e] = sum over windows w whose maxima include e of  dout[w] * p[w, e]

for every element ``e``.  Sending the full ``dout[w]`` to *every* tie breaks the sums and
stays wrong.  Overlapping windows share elements, so the weights are found together, per
image and channel, as a non-negative least-squares problem (``nnls``): ``dx`` is valid when
its residual vanishes.  Pure numpy, no reference: student mode uses it too.
"""

from __future__ import annotations

import numpy as np


def nnls(A: np.ndarray, b: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """``argmin ||A q - b||`` over ``q >= 0`` (Lawson and Hanson's active-set method)."""
    m, n = A.shape
    passive = np.zeros(n, dtype=bool)
    q = np.zeros(n)
    gradient = A.T @ (b - A @ q)
    for _ in range(3 * n + 10):
        if passive.all() or gradient[~passive].max(initial=-np.inf) <= tol:
            break
        candidates = np.where(~passive, gradient, -np.inf)
        passive[int(np.argmax(candidates))] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(A[:, passive], b, rcond=None)[0]
            if (z[passive] > tol).all():
                q = z
                break
            blocking = passive & (z <= tol)
            alpha = np.min(q[blocking] / np.maximum(q[blocking] - z[blocking], 1e-300))
            q = q + alpha * (z - q)
            passive &= q > tol
            q[~passive] = 0.0
        gradient = A.T @ (b - A @ q)
    return q


def _windows(x2: np.ndarray, pool_param: dict) -> list[tuple[tuple[int, int], np.ndarray]]:
    """((i, j), flat indices of the maxima) of every pooling window of one (H, W) image."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H, W = x2.shape
    out = []
    for i in range((H - ph) // s + 1):
        for j in range((W - pw) // s + 1):
            window = x2[i * s:i * s + ph, j * s:j * s + pw]
            rows, cols = np.nonzero(window == window.max())
            out.append(((i, j), (rows + i * s) * W + (cols + j * s)))
    return out


def is_valid_max_pool_gradient(x: np.ndarray, pool_param: dict, dout: np.ndarray, dx: np.ndarray,
                               tol: float = 1e-6) -> bool:
    """Whether ``dx`` is a valid subgradient of max pooling ``x`` for the upstream ``dout``
    (see the module docstring), up to a relative error ``tol``."""
    if not isinstance(dx, np.ndarray) or dx.shape != x.shape or not np.all(np.isfinite(dx)):
        return False
    scale = max(float(np.max(np.abs(dout), initial=0.0)), float(np.max(np.abs(dx), initial=0.0)), 1e-12)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            windows = _windows(x[n, c], pool_param)
            target = dx[n, c].ravel()
            columns, window_rows, signs = [], [], []
            for w, ((i, j), maxima) in enumerate(windows):
                g = float(dout[n, c, i, j])
                if g == 0.0:
                    continue
                for e in maxima:
                    columns.append(e)
                    window_rows.append(w)
                    signs.append(np.sign(g))
            A = np.zeros((target.size + len(windows), len(columns)))
            b = np.concatenate([target, [abs(float(dout[n, c, i, j])) for (i, j), _ in windows]])
            for k, (e, w, sign) in enumerate(zip(columns, window_rows, signs)):
                A[e, k] = sign
                A[target.size + w, k] = 1.0
            q = nnls(A, b) if columns else np.zeros(0)
            if np.max(np.abs(A @ q - b), initial=0.0) > tol * scale:
                return False
    return True
