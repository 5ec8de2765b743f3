"""Lab 2's generated answers on what the baseline costs: its MACs as three counters count them, the bias additions
none of them counts, its size in memory against its saved file, and torchsummary's "Estimated Total Size"."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from labkit.counting import human_bytes

MIB = 1024 ** 2  # torchsummary's "MB"


def counters_and_bias(layers: pd.DataFrame, macs: Mapping[str, int], *, params: int) -> str:
    """What the MAC counters (name -> MACs per image) agree on, the conv bias additions none counts, and where the
    parameters and the MACs sit (``layers``: counting.layer_table of one image; ``params``: the model's total)."""
    conv = layers[layers.type == "Conv2d"]
    bias_adds = int(sum(math.prod(shape) for shape in conv.output_shape))  # one bias add per conv output
    analytic = int(macs["analytic"])
    names = ", ".join(f"{name} {count:,}" for name, count in macs.items())
    head = (f"All {len(macs)} counters agree on **{analytic:,} MACs** per image." if len(set(macs.values())) == 1 else
            f"The counters disagree ({names} MACs per image); the analytic count is **{analytic:,}**.")
    largest = layers.loc[layers.params.idxmax()]
    conv_params, conv_macs = conv.params.sum() / params, conv.macs.sum() / analytic
    where = (f"The layer `{largest.layer}` holds {largest.params / params:.1%} of the parameters; the convolutions "
             f"hold {conv_params:.1%} of them but do {conv_macs:.0%} of the MACs")
    where += (": a conv weight is reused at every position of the image, a linear weight once per image."
              if conv_macs > conv_params else ", no more than their share of the weights.")
    return (f"{head} None counts the bias additions: the original `thop` (0.1.x) added one operation per conv output "
            f"for the bias, which here would be {bias_adds:,} more ({bias_adds / analytic:.1%}); the maintained "
            f"`ultralytics-thop` that labkit uses does not, like torch's counter. {where}")


def memory_vs_file(size_table: pd.DataFrame) -> str:
    """Why the weights' bytes in memory differ from the saved file (the rows of sizes.memory_vs_file, in order)."""
    in_memory, on_disk, fixed, per_tensor, training = (int(b) for b in size_table.bytes.iloc[:5])
    return (f"The weights take **{human_bytes(in_memory)}** in memory (float32, 4 bytes each) and the file "
            f"`torch.save` writes **{human_bytes(on_disk)}**: {on_disk - in_memory:,} bytes more, measured as a fixed "
            f"{fixed:,}-byte archive cost plus about {per_tensor} bytes per tensor (its name, pickled metadata and zip "
            "padding). The file holds no gradients or optimizer state; training needs them in memory too, "
            f"{human_bytes(training)} more with SGD momentum.")


def torchsummary_sizes(layers: pd.DataFrame, *, params: int, input_shape: Sequence[int]) -> dict[str, float]:
    """torchsummary's four sizes in MB (MiB) for one example, recomputed as it does: input numel x 4, 2 x the
    float32 outputs of every layer (x2 for their gradients), params x 4, and their sum (``layers``: one image)."""
    sizes = {"input": 4 * math.prod(input_shape) / MIB,
             "forward/backward pass": 2 * 4 * sum(math.prod(shape[1:]) for shape in layers.output_shape) / MIB,
             "params": 4 * params / MIB}
    return {**sizes, "estimated total": sum(sizes.values())}


def torchsummary_reconciled(layers: pd.DataFrame, size_table: pd.DataFrame, *, params: int,
                            input_shape: Sequence[int]) -> str:
    """torchsummary's "Estimated Total Size" as the sum of its terms, set against the size table's weights in memory
    and the saved file."""
    mb = torchsummary_sizes(layers, params=params, input_shape=input_shape)
    activations = int(sum(layers.activation_bytes))
    input_bytes = 4 * math.prod(input_shape)
    in_memory, on_disk = int(size_table.bytes.iloc[0]), int(size_table.bytes.iloc[1])
    return (f"torchsummary's **Estimated Total Size, {mb['estimated total']:.2f} MB** (MB there are MiB, 2^20 bytes), "
            f"adds three terms for one example: the input ({mb['input']:.2f} MB: {input_bytes:,} bytes), the "
            f"forward/backward pass "
            f"({mb['forward/backward pass']:.2f} MB: the {activations:,} bytes of every layer's float32 output in the "
            f"layer table, x2 for their gradients) and the params ({mb['params']:.2f} MB: {params:,} x 4 bytes, "
            + (f"the {human_bytes(in_memory)} of weights in memory in the size table" if 4 * params == in_memory else
               f"while the size table's {human_bytes(in_memory)} in memory also counts buffers and true element sizes")
            + f"). Only that last term is in the saved "
            f"file ({human_bytes(on_disk)}): activations and gradients exist only while the model runs, and grow with "
            "the batch size.")
