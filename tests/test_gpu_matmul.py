import pytest
import torch

from labkit.labs.gemm import gpu_matmul

REASON = gpu_matmul.gpu_unavailable()


def test_without_a_gpu_the_reason_is_given_and_triton_matmul_says_so():
    if REASON is None:
        pytest.skip("this machine has a GPU: the skip path is not exercised")
    assert "CUDA" in REASON or "Triton" in REASON
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        gpu_matmul.triton_matmul(torch.ones(2, 2), torch.ones(2, 2))


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
@pytest.mark.parametrize("m,k,n", [(64, 64, 64), (100, 37, 129), (1, 300, 5)])
def test_triton_matmul_equals_cublas_within_fp32_rounding(m, k, n):
    a, b = torch.randn(m, k, device="cuda"), torch.randn(k, n, device="cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    assert torch.allclose(gpu_matmul.triton_matmul(a, b), a @ b, atol=1e-4, rtol=1e-5)


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
def test_cuda_event_times_are_positive():
    a = torch.randn(256, 256, device="cuda")
    times = gpu_matmul.cuda_event_ms(lambda: a @ a, repeats=3, warmup=1)
    assert len(times) == 3 and min(times) > 0


def test_the_triton_kernel_is_defined_once_so_it_is_compiled_once():
    pytest.importorskip("triton")  # optional: Triton comes with CUDA builds of torch
    assert gpu_matmul.triton_kernel() is gpu_matmul.triton_kernel()
