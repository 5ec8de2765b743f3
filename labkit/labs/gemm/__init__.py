"""Lab 5: the GEMM rewrite (im2col layers, layouts, exactness, GPU matmul)."""

from labkit import lazy_submodules

__getattr__ = lazy_submodules(__name__)
