"""bf16 autocast on CPU (``train.amp=true``): the same training curve as fp32 within bf16's precision.

Skipped where oneDNN has no bf16 kernels (e.g. AMD Zen 3): there autocast
would emulate bf16 and be slower, and the benchmark reports it as skipped.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from skelssl.models import create_encoder

pytestmark = pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(),
                                reason="this CPU has no bf16 kernels")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def loss_curve(model: torch.nn.Module, head: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool,
               steps: int = 8) -> list[float]:
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    curve = []
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(head(model(x)).float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(loss.item())
    return curve


@pytest.mark.parametrize("name, kw", [("stgcn", {"width": 0.125}), ("bigru", {"hidden_size": 32, "num_layers": 2})])
def test_bf16_autocast_follows_the_fp32_loss_curve(name, kw):
    torch.manual_seed(0)
    x = torch.randn(16, 3, 20, 25, 2)
    x[4:, ..., 1] = 0  # most samples have one body
    y = torch.arange(16) % 4
    model = create_encoder(name, layout="ntu25", **kw).train()
    head = torch.nn.Linear(model.feature_dim, 4)
    fp32 = loss_curve(copy.deepcopy(model), copy.deepcopy(head), x, y, bf16=False)
    bf16 = loss_curve(model, head, x, y, bf16=True)
    assert fp32[-1] < 0.95 * fp32[0] and bf16[-1] < 0.95 * bf16[0], (fp32, bf16)  # both learn
    for a, b in zip(fp32, bf16):
        assert abs(a - b) <= 0.05 * abs(a) + 0.02, (fp32, bf16)  # bf16 keeps 8 mantissa bits: ~1 % per op
