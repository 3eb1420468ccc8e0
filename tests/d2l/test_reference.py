"""reference/d2l.py against torch (conv2d, max_pool2d, avg_pool2d and autograd) and the book's
hand-worked examples; every known bug differs from the right answer where the grader uses it."""

from __future__ import annotations

import numpy as np
import pytest

from grader.reference import d2l as ref

torch = pytest.importorskip("torch")
F = torch.nn.functional


def test_the_books_worked_examples():
    X = np.arange(9.0).reshape(3, 3)
    K = np.array([[0.0, 1.0], [2.0, 3.0]])
    assert ref.corr2d(X, K).tolist() == [[19, 25], [37, 43]]
    assert ref.corr2d_multi_in(np.stack([X, X + 1]), np.stack([K, K + 1])).tolist() == [[56, 72], [104, 120]]
    assert ref.pool2d(X, (2, 2)).tolist() == [[4, 5], [7, 8]]
    assert ref.pool2d(X, (2, 2), "avg").tolist() == [[2, 3], [5, 6]]
    edge = np.ones((6, 8))
    edge[:, 2:6] = 0
    Y = ref.corr2d(edge, [[1, -1]])
    assert Y.shape == (6, 7) and (Y[:, 1] == 1).all() and (Y[:, 5] == -1).all() and np.abs(Y).sum() == 12


@pytest.mark.parametrize("c_i, c_o, h, w, kh, kw, stride, padding", [
    (1, 1, 5, 7, 2, 3, 1, 0), (3, 2, 6, 5, 3, 2, 2, 1), (2, 4, 3, 3, 3, 3, 1, 0), (1, 1, 1, 1, 1, 1, 1, 0),
    (3, 2, 7, 6, 3, 2, (2, 1), (1, 2))])
def test_correlation_and_its_gradients_match_torch(c_i, c_o, h, w, kh, kw, stride, padding):
    rng = np.random.default_rng(kh * 10 + kw)
    X, K = rng.standard_normal((c_i, h, w)), rng.standard_normal((c_o, c_i, kh, kw))
    Xt, Kt = torch.tensor(X, requires_grad=True), torch.tensor(K, requires_grad=True)
    Yt = F.conv2d(Xt[None], Kt, stride=stride, padding=padding)[0]
    G = rng.standard_normal(tuple(Yt.shape))
    Yt.backward(torch.tensor(G))
    np.testing.assert_allclose(ref.correlate(X, K, stride, padding), Yt.detach().numpy(), atol=1e-12)
    dX, dK = ref.correlate_grads(X, K, G, stride, padding)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(dK, Kt.grad.numpy(), atol=1e-12)


def test_the_book_functions_match_torch_and_1x1_is_the_matrix_product():
    rng = np.random.default_rng(3)
    X, K = rng.standard_normal((3, 4, 5)), rng.standard_normal((2, 3, 1, 1))
    expected = F.conv2d(torch.tensor(X)[None], torch.tensor(K))[0].numpy()
    np.testing.assert_allclose(ref.corr2d_multi_in_out_1x1(X, K), expected, atol=1e-12)
    np.testing.assert_allclose(ref.corr2d_multi_in_out(X, K), expected, atol=1e-12)
    K3 = rng.standard_normal((3, 2, 2))
    np.testing.assert_allclose(ref.corr2d_multi_in(X, K3), F.conv2d(torch.tensor(X)[None], torch.tensor(K3)[None])[0, 0],
                               atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("h, w, ph, pw, stride, padding", [(5, 6, 2, 3, 1, 0), (6, 7, 3, 3, 2, 1), (3, 4, 3, 4, 1, 0),
                                                          (4, 4, 1, 1, 1, 0)])
def test_pooling_and_its_gradient_match_torch(mode, h, w, ph, pw, stride, padding):
    rng = np.random.default_rng(h * w)
    X = rng.standard_normal((h, w))
    Xt = torch.tensor(X, requires_grad=True)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    Yt = pool(Xt[None, None], (ph, pw), stride=stride, padding=padding)[0, 0]
    G = rng.standard_normal(tuple(Yt.shape))
    Yt.backward(torch.tensor(G))
    np.testing.assert_allclose(ref.pool2d(X, (ph, pw), mode, stride, padding), Yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ref.gradients("pool2d", (X, (ph, pw), mode), G, {"stride": stride, "padding": padding})[0],
                               Xt.grad.numpy(), atol=1e-12)


def test_every_known_bug_differs_from_the_right_answer():
    rng = np.random.default_rng(0)
    args = {"corr2d": (rng.standard_normal((6, 5)), rng.standard_normal((2, 3))),
            "corr2d_multi_in": (rng.standard_normal((3, 5, 6)), rng.standard_normal((3, 2, 3))),
            "corr2d_multi_in_out": (rng.standard_normal((3, 5, 6)), rng.standard_normal((2, 3, 2, 3))),
            "pool2d": (rng.standard_normal((5, 6)), (2, 3), "avg")}
    options = {"stride": (2, 2), "padding": (1, 1)}
    for wrong in ref.WRONG:
        given = options if wrong.function in ("corr2d", "pool2d") else {}
        right = ref.forward(wrong.function, args[wrong.function], given)
        got = np.asarray(wrong.fn(*args[wrong.function], **given))
        assert got.shape != right.shape or not np.allclose(got, right), wrong.key
