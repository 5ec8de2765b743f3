"""Lab 1's crop-versus-resize answer, and the ink a crop throws away, measured."""

import torch

from labkit.data import ink_outside_center
from labkit.labs.mlp.answers import crop_vs_resize


def test_ink_outside_the_center_is_measured_from_the_images():
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, 12:16, 12:16] = 255  # all ink in the middle 4x4
    assert ink_outside_center(images, 14) == 0.0
    images[:, 0, :] = 255  # a full stroke along the top border
    assert abs(ink_outside_center(images, 14) - 28 / (28 + 16)) < 1e-9


def test_the_winner_is_read_from_the_accuracies_and_the_ink_lost_is_stated():
    text = crop_vs_resize(0.91, 0.62, 0.98, size=7, ink_outside=0.83)
    assert "Resizing wins" in text and "throws away 83% of the test images' ink" in text and "16x fewer" in text
    assert "Cropping wins here although" in crop_vs_resize(0.60, 0.70, 0.98, size=14, ink_outside=0.1)
    assert "Neither wins" in crop_vs_resize(0.7, 0.7, 0.98, size=14, ink_outside=0.1)
