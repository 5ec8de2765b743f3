import torch
from torch import nn

from labkit import profiling


def test_op_table_lists_the_ops_of_one_forward_with_shares_adding_to_one():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    table = profiling.op_table(model, torch.randn(2, 1, 8, 8), repeats=3, warmup=1, top=None)
    assert abs(table.share.sum() - 1) < 1e-9 and (table.self_ms >= 0).all()
    assert table.loc[table.op == "aten::addmm", "calls"].iloc[0] == 1, "one linear layer: one addmm per forward"
    kinds = profiling.time_by_kind(table)
    assert kinds["gemm"] > 0 and kinds["convolution"] > 0
    assert abs(sum(kinds.values()) - table.self_ms.sum()) < 1e-9


def test_op_table_lumps_the_tail_into_other():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    table = profiling.op_table(model, torch.randn(3, 4), repeats=2, warmup=0, top=2)
    assert len(table) == 3 and table.op.iloc[-1].startswith("other (")
