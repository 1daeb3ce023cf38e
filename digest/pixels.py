"""Tracking pixels: the declared size that marks a picture as one (1x1, 2x2, or one side that thin).

Feeds, selection and the checks of a finished email all ask it, so it lives low, in the core.
"""

from __future__ import annotations

__all__ = ["PIXEL_SIZE", "is_pixel_size"]

#: A picture this wide or high (or less) is a tracking pixel, not a picture.
PIXEL_SIZE = 2


def is_pixel_size(width: int | None, height: int | None) -> bool:
    """Whether a declared size is a tracking pixel's (1x1, 2x2, or one side that thin)."""
    return (width is not None and width <= PIXEL_SIZE) or (
        height is not None and height <= PIXEL_SIZE
    )
