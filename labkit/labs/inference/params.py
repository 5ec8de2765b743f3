"""Lab 3's notebook parameters (ResNet18 and BERT inference): validation and the smoke switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.labs.inference import zoo
from labkit.labs.inference.latency import InferenceSetup
from labkit.labs.inference.memory import OPTIMIZERS
from labkit.labs.inference.speedups import VARIANTS
from labkit.param_checks import check_bools, notebook_values, numbers_in_range, positive_ints, validated_params
from labkit.train import resolve_device


@dataclass(frozen=True)
class Lab3Params:
    """Every knob of Lab 3 (ResNet18 and BERT inference), validated on creation."""

    reports_dir: str | None = None
    device: str = "auto"
    seed: int = 0
    pretrained: bool = False
    resnet_weights: str = "IMAGENET1K_V1"
    bert_checkpoint: str = "deepset/bert-base-cased-squad2"
    seq_len: int = 128
    resnet_batch_sizes: tuple[int, ...] = (1, 32, 64, 128)
    bert_batch_sizes: tuple[int, ...] = (1, 8, 16, 32)
    warmup: int = 3
    repeats: int = 20
    compare_examples: int = 128
    compare_repeats: int = 5
    layer_batch_size: int = 64
    optimizer: str = "sgd_momentum"
    peak_batch_size: int = 128
    peak_rounds: int = 3
    peak_matrix_size: int = 2048
    speedup_resnet_batch_sizes: tuple[int, ...] = (1, 32)
    speedup_bert_batch_sizes: tuple[int, ...] = (1, 8)
    variants: tuple[str, ...] = ("channels_last", "compile", "int8_dynamic", "bf16_autocast")
    tolerance: float = 0.01
    export_onnx: bool = True
    smoke: bool = False

    def __post_init__(self) -> None:
        def set_(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        resolve_device(self.device)
        zoo.check_seq_len(self.seq_len)
        zoo.check_resnet18_weights(self.resnet_weights)
        zoo.check_bert_checkpoint(self.bert_checkpoint)
        check_bools(self, "pretrained", "export_onnx")
        for name in ("seed", "warmup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}={value!r}: must be a non-negative whole number")
        for name in ("repeats", "compare_examples", "compare_repeats", "layer_batch_size", "peak_batch_size",
                     "peak_rounds", "peak_matrix_size"):
            positive_ints(getattr(self, name), name)
        for name in ("resnet_batch_sizes", "bert_batch_sizes", "speedup_resnet_batch_sizes",
                     "speedup_bert_batch_sizes"):
            set_(name, positive_ints(getattr(self, name), name))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r}: choose from {list(OPTIMIZERS)}")
        variants = (self.variants,) if isinstance(self.variants, str) else tuple(self.variants)
        for variant in variants:
            if variant not in VARIANTS:
                raise ValueError(f"variants contains {variant!r}: choose from {list(VARIANTS)}")
        set_("variants", variants)
        numbers_in_range(self.tolerance, "tolerance", low=0.0, high=1.0, closed_high=True)

    def setup(self) -> InferenceSetup:
        """What stays fixed across the lab's measurements."""
        return InferenceSetup(warmup=self.warmup, repeats=self.repeats, device=self.device, pretrained=self.pretrained,
                              resnet_weights=self.resnet_weights, bert_checkpoint=self.bert_checkpoint, seed=self.seed)


# What --smoke shrinks: batches, repeats and the sequence, so the notebook runs in about a minute. torch.compile
# stays out of smoke runs (tens of seconds of compiling per model); its path is covered by a unit test.
LAB3_SMOKE = dict(seq_len=32, resnet_batch_sizes=(1, 4), bert_batch_sizes=(1, 2), warmup=1, repeats=3,
                  compare_examples=8, compare_repeats=2, layer_batch_size=4, peak_batch_size=8, peak_rounds=2,
                  peak_matrix_size=512, speedup_resnet_batch_sizes=(1,), speedup_bert_batch_sizes=(1,),
                  variants=("channels_last", "int8_dynamic", "bf16_autocast"))


def lab3(**params: Any) -> Lab3Params:
    """Validate Lab 3's parameters as given (unknown names are an error), then apply ``smoke``."""
    return validated_params(Lab3Params, LAB3_SMOKE, "Lab 3", params)


def from_notebook(namespace: dict[str, Any]) -> Lab3Params:
    """Validate the notebook's parameters (its ``globals()``), then apply ``smoke``."""
    return lab3(**notebook_values(Lab3Params, namespace))
