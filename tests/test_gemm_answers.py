"""Lab 5's where-the-time-goes answer: the patch-matrix reason only for layouts that build one."""

import pandas as pd

from labkit.labs.gemm.answers import where_the_time_goes


def kinds(**rows):
    return pd.DataFrame(rows, index=["gemm", "convolution", "memory", "other"]).T


def test_im2col_layouts_pay_for_the_patch_matrix_and_kn2row_does_not():
    text = where_the_time_goes(kinds(original=[0.1, 0.4, 0.0, 0.1], naive=[0.3, 0.0, 1.5, 0.2],
                                     kn2row=[0.5, 0.0, 0.9, 0.1]))
    naive, kn2row = text.split("`naive`")[1].split("`kn2row`")
    assert "patch matrix is k·k times the input" in naive
    assert "builds no patch matrix" in kn2row and "k·k times the input" not in kn2row
    assert "0.600 ms" in text, "the original's total"


def test_a_compiled_rewrite_is_read_from_its_fused_kernels():
    text = where_the_time_goes(kinds(original=[0.1, 0.4, 0.0, 0.1], **{"nhwc + compile": [0.2, 0.0, 0.1, 0.6]}))
    assert "fused kernels" in text and "patch matrix" not in text
