"""Lab 5: the GEMM rewrite (im2col layers, layouts, exactness, GPU matmul)."""
