"""Lab 3: ResNet18 and BERT inference (models, latency, speed-ups, memory, attention)."""
