import numpy as np


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    eps = bn_param.get("eps", 1e-5)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    xhat = (x - mean) / np.sqrt(var + eps)
    out = gamma[None, :, None, None] * xhat + beta[None, :, None, None]
    return out, (xhat, gamma, np.sqrt(var + eps))


def spatial_batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = (dout * xhat).sum(axis=(0, 2, 3))
    dx = dout * gamma[None, :, None, None] / std  # treats the mean and variance as constants
    return dx, dgamma, dbeta
