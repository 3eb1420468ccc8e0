"""Fixtures of the transfer tests: one CPU thread while they run (as in the
grader's child and in scripts/train_backbone.py), restored afterwards."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
