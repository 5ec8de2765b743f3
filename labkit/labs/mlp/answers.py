"""Lab 1's generated answers: each a sentence read from the measured rows; a reason is a finding only when the
run measured it."""

from __future__ import annotations


def crop_vs_resize(resize_acc: float, crop_acc: float, original_acc: float, *, size: int,
                   ink_outside: float) -> str:
    """Resizing against center-cropping to ``size`` pixels (test accuracies as fractions); ``ink_outside`` is the
    measured share of the test images' ink outside the central ``size`` x ``size`` window."""
    head = (f"At {size}x{size} pixels, resizing keeps **{resize_acc:.2%}** test accuracy and cropping "
            f"**{crop_acc:.2%}** (the original 28x28: {original_acc:.2%}). ")
    lost = f"a crop to {size}x{size} throws away {ink_outside:.0%} of the test images' ink (pixel intensity)"
    if resize_acc > crop_acc:
        why = f"Resizing wins: it keeps the whole digit at lower detail, while {lost}."
    elif crop_acc > resize_acc:
        why = f"Cropping wins here although {lost}: the middle of the image carries enough of the digit."
    else:
        why = f"Neither wins at this precision; {lost}."
    return head + why + f" Both cut the first layer's MACs by the same factor ({(28 / size) ** 2:.0f}x fewer input pixels)."
