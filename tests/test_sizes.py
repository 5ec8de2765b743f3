"""Model size in memory vs on disk, measured."""

import io

import torch

from labkit.models import CNN, save_model
from labkit.sizes import memory_vs_file


def test_memory_is_four_bytes_per_float32_parameter_and_the_file_measured(tmp_path):
    model = CNN([16, 16], 3, hidden=[100])
    path = save_model(model, tmp_path / "m.pt")
    table = memory_vs_file(model, path).set_index("what").bytes
    assert table["parameters and buffers in memory"] == 4 * 925_190
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    assert table["torch.save(state_dict) file"] == buffer.getbuffer().nbytes
    assert table["m.pt on disk"] == path.stat().st_size
    assert table["+ gradients and SGD momentum while training"] == 2 * 4 * 925_190


def test_file_overhead_splits_into_a_fixed_cost_and_a_cost_per_tensor():
    model = CNN([16, 16], 3, hidden=[100])
    table = memory_vs_file(model).set_index("what").bytes
    n_tensors = len(model.state_dict())
    rebuilt = (table["parameters and buffers in memory"] + table["torch.save({}) file"]
               + n_tensors * table["overhead per tensor"])
    assert abs(rebuilt - table["torch.save(state_dict) file"]) <= n_tensors, "overhead accounts for the difference"
    assert table["overhead per tensor"] > 0
