"""Lab 5's generated answers: each a sentence read from the measured tables, true for every layout compared."""

from __future__ import annotations

import pandas as pd

# Which rewrites build a patch matrix (im2col); kn2row runs one GEMM per kernel offset and sums shifted outputs.
PATCH_LAYOUTS = ("naive", "folded", "nhwc")


def _layout(name: str) -> str:
    """The layout a timed model's name starts with ('nhwc + compile' -> 'nhwc')."""
    return name.split(" ")[0]


def where_the_time_goes(kinds: pd.DataFrame, original: str = "original") -> str:
    """Sentences reading ``kinds`` (ms per forward by kind: gemm, convolution, memory, other; one row per model,
    ``original`` first): where each rewrite spends its time, and why the memory time is there for its layout."""
    base = kinds.loc[original]
    lines = [f"The original spends {base.convolution:.3f} ms per forward in oneDNN's convolution kernel and "
             f"{base.gemm:.3f} ms in GEMMs (its linear layers)."]
    for name in kinds.index:
        if name == original:
            continue
        k = kinds.loc[name]
        if k.other > k.memory:
            rest = (f"{k.other:.3f} ms in other ops (a compiled rewrite's fused kernels, which now do the data "
                    f"movement) and {k.memory:.3f} ms in separate copies")
        elif _layout(name) in PATCH_LAYOUTS:
            rest = (f"{k.memory:.3f} ms moving memory (im2col, copies, padding, allocation): the patch matrix is k·k "
                    "times the input, so building it costs memory traffic the direct convolution never pays")
        elif _layout(name) == "kn2row":
            rest = (f"{k.memory:.3f} ms moving memory (shifting and adding partial outputs, padding): kn2row builds "
                    "no patch matrix, it runs one GEMM per kernel offset and sums the shifted results")
        else:
            rest = f"{k.memory:.3f} ms moving memory (copies, padding, allocation)"
        lines.append(f"`{name}` spends {k.gemm:.3f} ms in GEMMs and {rest}; {k.sum():.3f} ms in all, against the "
                     f"original's {base.sum():.3f} ms.")
    return " ".join(lines)
