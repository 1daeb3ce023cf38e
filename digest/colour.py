"""Colour arithmetic for themes: WCAG contrast ratios and lighter variants for dark mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.models import Theme

__all__ = ["DARK_SURFACE", "contrast_ratio", "dark_theme", "mix", "relative_luminance"]

#: WCAG 2 AA minimum for body text.
MIN_CONTRAST = 4.5


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def relative_luminance(colour: str) -> float:
    """The WCAG 2 relative luminance of a ``#rrggbb`` colour, from 0 (black) to 1 (white)."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio of two colours, from 1 to 21."""
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def mix(colour: str, other: str, amount: float) -> str:
    """Mix ``amount`` (0 to 1) of ``other`` into ``colour``."""
    mixed = (round(a + (b - a) * amount) for a, b in zip(_rgb(colour), _rgb(other), strict=True))
    return "#" + "".join(f"{v:02x}" for v in mixed)


def dark_theme(theme: Theme) -> dict[str, str]:
    """Colours for dark mode: dark surfaces, with the brand colours lightened until legible."""
    return {
        "background": "#111418",
        "surface": DARK_SURFACE,
        "text": "#e6e8eb",
        "muted": "#aab2bb",
        "brand": _legible_on_dark(theme.brand),
        "accent": _legible_on_dark(theme.accent),
    }


DARK_SURFACE = "#1b1f24"


def _legible_on_dark(colour: str) -> str:
    """The colour, mixed with white until it reaches 4.5:1 on the dark surface."""
    for step in range(11):
        candidate = mix(colour, "#ffffff", step / 10)
        if contrast_ratio(candidate, DARK_SURFACE) >= MIN_CONTRAST:
            return candidate
    return "#ffffff"
