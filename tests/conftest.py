"""Test-session settings shared by every test module."""

from __future__ import annotations

import torch

# Small dense linear algebra dominates these tests; on a shared 2-core machine a second
# BLAS thread only adds contention (measured: 20x slower GP likelihood evaluations under
# load). One thread keeps test times stable; it does not change any result.
torch.set_num_threads(1)
