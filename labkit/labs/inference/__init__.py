"""Lab 3: ResNet18 and BERT inference (models, latency, speed-ups, memory, attention)."""

from labkit import lazy_submodules

__getattr__ = lazy_submodules(__name__)
