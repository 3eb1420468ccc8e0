"""The instructor's reference for spatial batch normalisation (cs231n assignment 2), train mode.

Never shipped to students: `grader export student` ships the public cases' results instead.
Also holds the wrong variants the assignment names (same signatures as the reference's).
"""

import numpy as np


def _moments(x, eps):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)  # one mean and variance per channel, over N, H and W
    var = x.var(axis=(0, 2, 3), keepdims=True)
    return mean, var, np.sqrt(var + eps)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mean, var, std = _moments(x, eps)
    xhat = (x - mean) / std
    out = gamma.reshape(1, -1, 1, 1) * xhat + beta.reshape(1, -1, 1, 1)
    return out, (x, gamma, beta, dict(bn_param))


def spatial_batchnorm_backward(dout, cache):
    x, gamma, _, bn_param = cache
    mean, _, std = _moments(x, bn_param.get("eps", 1e-5))
    xhat = (x - mean) / std
    m = x.shape[0] * x.shape[2] * x.shape[3]
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    dxhat = dout * gamma.reshape(1, -1, 1, 1)
    dx = (m * dxhat - dxhat.sum(axis=(0, 2, 3), keepdims=True)
          - xhat * (dxhat * xhat).sum(axis=(0, 2, 3), keepdims=True)) / (m * std)
    return dx, dgamma, dbeta


# ---- the bugs students write, with the message each earns (assignment.toml names them)


def forward_per_pixel(x, gamma, beta, bn_param):
    """Normalised over the batch only (axis 0), as the plain batch norm does, not over N, H and W."""
    mean, var = x.mean(axis=0, keepdims=True), x.var(axis=0, keepdims=True)
    xhat = (x - mean) / np.sqrt(var + bn_param.get("eps", 1e-5))
    return gamma.reshape(1, -1, 1, 1) * xhat + beta.reshape(1, -1, 1, 1), None


def forward_gamma_not_per_channel(x, gamma, beta, bn_param):
    """Reshaped with (N*C, H*W) instead of moving the channels last: the statistics mix channels."""
    N, C, H, W = x.shape
    flat = x.reshape(-1, C)  # not x.transpose(0, 2, 3, 1).reshape(-1, C)
    mean, var = flat.mean(axis=0), flat.var(axis=0)
    xhat = ((flat - mean) / np.sqrt(var + bn_param.get("eps", 1e-5))).reshape(N, C, H, W)
    return gamma.reshape(1, -1, 1, 1) * xhat + beta.reshape(1, -1, 1, 1), None


def backward_no_mean_terms(dout, cache):
    """dx = dout * gamma / std: the mean and variance depend on x too."""
    x, gamma, _, bn_param = cache
    dx_right, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    _, _, std = _moments(x, bn_param.get("eps", 1e-5))
    return dout * gamma.reshape(1, -1, 1, 1) / std, dgamma, dbeta


def backward_dgamma_batch_only(dout, cache):
    """dgamma and dbeta summed over the batch only, keeping H and W."""
    x, gamma, _, bn_param = cache
    dx, _, _ = spatial_batchnorm_backward(dout, cache)
    mean, _, std = _moments(x, bn_param.get("eps", 1e-5))
    return dx, (dout * (x - mean) / std).sum(axis=0), dout.sum(axis=0)
