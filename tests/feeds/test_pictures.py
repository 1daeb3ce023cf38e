"""Pictures that are icons, sizes from addresses, and sizes read from a picture's header."""

from __future__ import annotations

import pytest

from digest.feeds.pictures import best_picture, is_icon, picture, size_in_url
from digest.feeds.probe import image_size

from ..helpers import FIXTURES

PICTURES = FIXTURES / "pictures"


@pytest.mark.parametrize(
    ("url", "icon"),
    [
        ("https://1.bp.blogspot.com/-x/abc/s72-c/photo.jpg", True),  # Blogger's thumbnail
        ("https://blogger.googleusercontent.com/img/b/R29v/abc=s72-c", True),
        ("https://news.example/images/icons/twitter.png", True),
        ("https://news.example/share/facebook-16x16.gif", True),
        ("https://static.addtoany.com/buttons/a2a.svg", True),
        ("https://s.w.org/images/core/emoji/14.0.0/72x72/1f600.png", True),
        ("https://news.example/wp-content/uploads/2026/11/bridge-1024x576.jpg", False),
        ("https://news.example/wp-content/uploads/2026/11/bridge-150x150.jpg", False),
        ("https://news.example/assets/socialism-rally.jpg", False),
        ("https://news.example/2026/11/iconic-bridge.jpg", False),
        ("https://external-preview.redd.it/YnF4?width=640&crop=smart", False),
    ],
)
def test_icons_are_known_by_host_path_or_size(url: str, icon: bool) -> None:
    assert is_icon(picture(url)) is icon  # type: ignore[arg-type]


def test_a_size_in_the_address_counts_when_the_feed_gives_none() -> None:
    assert size_in_url("https://n.example/a/photo-1024x576.jpg") == (1024, 576)
    assert size_in_url("https://lh3.googleusercontent.com/x/w640-h360/p.jpg") == (640, 360)
    made = picture("https://n.example/a/photo-1024x576.jpg")
    assert made is not None and (made.width, made.height) == (1024, 576)
    declared = picture("https://n.example/a/photo-1024x576.jpg", width=800, height=450)
    assert declared is not None and declared.width == 800  # the feed's own size wins


def test_share_buttons_are_never_the_story_s_picture() -> None:
    twitter = picture("https://n.example/icons/twitter.png")
    facebook = picture("https://n.example/share/facebook.png")
    photo = picture("https://n.example/photos/market.jpg")
    assert best_picture([twitter, facebook, photo]) == photo  # type: ignore[list-item]
    assert best_picture([twitter, facebook]) is None  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("name", "size"),
    # Pillow's test images (HPND licence, in LICENSE-Pillow.txt); the sizes Pillow reads.
    [
        ("hopper.png", (128, 128)),
        ("hopper.gif", (128, 128)),
        ("hopper.jpg", (128, 128)),
        ("hopper.webp", (128, 128)),
        ("flower.jpg", (480, 360)),
    ],
)
def test_sizes_from_a_picture_s_first_bytes(name: str, size: tuple[int, int]) -> None:
    assert image_size((PICTURES / name).read_bytes()[:65536]) == size


@pytest.mark.parametrize(
    "head", [b"", b"GIF89a", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00", b"<html>"]
)
def test_a_truncated_or_other_file_gives_no_size(head: bytes) -> None:
    assert image_size(head) is None


@pytest.mark.parametrize(
    ("url", "alt", "kept"),
    [
        # A CMS that fills alt in from the file's name ("07012017 Spalletti").
        ("https://n.example/wp/07012017_Spalletti.jpg", "07012017 Spalletti", ""),
        ("https://n.example/wp/07012017-Spalletti-1024x576.jpg", "07012017 Spalletti", ""),
        ("https://n.example/a/IMG_1234.jpg", "IMG_1234", ""),
        ("https://n.example/a/x.jpg", "DSC01234", ""),
        ("https://n.example/a/x.jpg", "WhatsApp Image 2026-11-30 at 10.15.22", ""),
        (
            "https://n.example/a/lead.jpg",
            "Luciano Spalletti at the press conference",
            "Luciano Spalletti at the press conference",
        ),
        ("https://n.example/a/x.jpg", "Photo 2 of the bridge", "Photo 2 of the bridge"),
    ],
)
def test_a_file_name_is_no_description(url: str, alt: str, kept: str) -> None:
    made = picture(url, alt=alt)
    assert made is not None and made.alt == kept
