"""The examples in headless Chromium at phone and desktop widths, light and dark.

Skipped, with the reason, when Chromium or chromedriver is missing. Screenshots are written to
``tests/artifacts/``; ``pytest --update-snapshots`` also refreshes the ones in
``docs/screenshots/`` that the README shows.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest import RenderError, build_digest, load_config
from digest.models import Logo
from digest.render.inline import INLINERS

from .helpers import DEFAULT_DESIGN, EXAMPLE_EDITIONS, EXAMPLES, ROOT, build_example, changed

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).parent / "artifacts"
README_SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WIDTHS = [320, 375, 600, 1024]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from _chromium()


def _chromium(*extra: str) -> Iterator[Any]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Chromium and chromedriver are not installed "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--hide-scrollbars",
        "--disable-dev-shm-usage",
        *extra,
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER)
    )
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each example written once, with its pictures from the example folder."""
    folder = tmp_path_factory.mktemp("pages")
    written = {}
    for example in EXAMPLE_EDITIONS:
        assets = load_config(EXAMPLES / example / "newsletter.toml").assets
        assert assets is not None
        images = assets.resolve().as_uri()
        for engine in INLINERS:
            page = folder / f"{example}-{engine}.html"
            try:
                page.write_text(build_example(example, images, engine).html, "utf-8")
            except RenderError:  # css-inline is an optional extra
                continue
            written[f"{example}/{engine}"] = page
    return written


def show(
    driver: Any, path: Path, width: int, scheme: str, height: int = 900, pictures: bool = True
) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": height,
            "deviceScaleFactor": 1,
            "mobile": width < 480,
        },
    )
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {
            "features": [{"name": "prefers-color-scheme", "value": scheme}],
        },
    )
    driver.get(path.as_uri())
    if not pictures:
        return  # blocked pictures never finish loading
    # Wait (up to 5 s) until every picture has loaded or failed, so measurements are final.
    driver.set_script_timeout(5)
    driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const waits = [...document.images].map(i => i.complete ? null
            : new Promise(r => { i.onload = i.onerror = r; })).filter(Boolean);
        Promise.all(waits).then(() => done(true));
        """
    )


MEASURE = """
const lead = document.querySelector('h1').closest('table').parentElement
    .closest('div[class*="mj-column"]').querySelector('img');
const box = lead.getBoundingClientRect();
const clipped = [...document.querySelectorAll('h1, h2, h3, p')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.slice(0, 40));
const title = getComputedStyle(document.querySelector('h1 a'));
return {
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  leadLeft: box.left, leadRight: box.right, leadWidth: box.width,
  leadLoaded: lead.complete && lead.naturalWidth > 0,
  clipped: clipped,
  titleColour: title.color,
  background: getComputedStyle(document.body).backgroundColor,
};
"""


def brightness(css_colour: str) -> float:
    red, green, blue = (float(v) for v in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3])
    return (red * 299 + green * 587 + blue * 114) / 1000


@pytest.mark.parametrize("example", DEFAULT_DESIGN)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("engine", INLINERS)
def test_example_in_chromium(
    browser: Any,
    pages: dict[str, Path],
    example: str,
    width: int,
    scheme: str,
    engine: str,
    update_snapshots: bool,
) -> None:
    page = pages.get(f"{example}/{engine}")
    if page is None:
        pytest.skip(f"the {engine} inliner is not installed")
    show(browser, page, width, scheme)
    metrics = browser.execute_script(MEASURE)
    assert metrics["scrollWidth"] <= metrics["innerWidth"], "horizontal scrolling"
    assert metrics["leadLoaded"], "the lead picture did not load"
    assert metrics["leadLeft"] >= 0 and metrics["leadRight"] <= metrics["innerWidth"]
    assert metrics["leadWidth"] >= min(width, 600) * 0.8
    assert metrics["clipped"] == []
    if scheme == "dark":
        assert brightness(metrics["background"]) < 60
        assert brightness(metrics["titleColour"]) > 180
    else:
        assert brightness(metrics["background"]) > 200
        assert brightness(metrics["titleColour"]) < 80
    height = browser.execute_script("return document.documentElement.scrollHeight")
    show(browser, page, width, scheme, height=height)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{example}-{width}-{scheme}-{engine}.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if update_snapshots and width in (375, 600) and engine == "premailer":
        # The README shows the top of each: phone and desktop, light and dark.
        show(browser, page, width, scheme, height=1500)
        browser.save_screenshot(str(README_SHOTS / f"{example}-{width}-{scheme}.png"))


@pytest.mark.parametrize("locale", ["de", "ar", "ja", "pt_BR"])
def test_languages_in_chromium(
    browser: Any, tmp_path: Path, locale: str, update_snapshots: bool
) -> None:
    images = (EXAMPLES / "riverside" / "images").resolve().as_uri()
    page = tmp_path / f"riverside-{locale}.html"
    page.write_text(build_example("riverside", images, locale=locale).html, "utf-8")
    show(browser, page, 375, "light")
    seen = browser.execute_script(
        """
        const wrapper = document.querySelector('h1').closest('div[dir]');
        return {
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          direction: getComputedStyle(wrapper).direction,
          button: document.querySelector('td.button a').textContent.trim(),
          align: getComputedStyle(document.querySelector('p.kicker')).textAlign,
        };
        """
    )
    assert seen["scrollWidth"] <= seen["innerWidth"], "horizontal scrolling"
    rtl = locale == "ar"
    assert seen["direction"] == ("rtl" if rtl else "ltr")
    assert (
        seen["button"]
        == {"de": "Weiterlesen", "ar": "اقرأ المزيد", "ja": "続きを読む", "pt_BR": "Leia mais"}[
            locale
        ]
    )
    if update_snapshots:
        show(browser, page, 375, "light", height=1100)
        browser.save_screenshot(str(README_SHOTS / f"locale-{locale}.png"))


@pytest.fixture(scope="module")
def blind_browser() -> Iterator[Any]:
    """Chromium with pictures blocked, as Outlook shows a first open and some webmail does."""
    yield from _chromium("--blink-settings=imagesEnabled=false")


READER_VIEW = """
const strip = arguments[0];
if (strip) document.querySelectorAll('style').forEach(s => s.remove());
const visible = e => { const s = getComputedStyle(e); const r = e.getBoundingClientRect();
  return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0
    && !e.closest('[style*="display:none"]'); };
// Links inside running text are exempt from the target size (WCAG 2.5.8, "inline").
const inline = a => a.closest('.body p, .body li');
const links = [...document.querySelectorAll('a')].filter(visible).filter(a => !inline(a))
  .map(a => { const r = a.getBoundingClientRect();
    return {text: (a.textContent.trim() || a.querySelector('img')?.alt || '').slice(0, 30),
            width: r.width, height: r.height}; });
const pictures = [...document.querySelectorAll('img')].filter(visible).map(i => {
  const r = i.getBoundingClientRect();
  return {alt: i.alt.slice(0, 30), width: r.width, height: r.height,
          naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}; });
const texts = [...document.querySelectorAll('p, h1, h2, h3, a, li, blockquote, div, td, span')]
  .filter(visible)
  .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => ({text: e.textContent.trim().slice(0, 30), size: parseFloat(getComputedStyle(e).fontSize)}));
const footer = document.querySelector('td.footer div');
const lead = document.querySelector('.body p:not(.kicker):not(.muted)');
return {
  scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  links, pictures, texts,
  footer: {size: getComputedStyle(footer).fontSize, colour: getComputedStyle(footer).color},
  leadSize: lead ? parseFloat(getComputedStyle(lead).fontSize) : null,
  background: getComputedStyle(document.body).backgroundColor,
  schemes: document.querySelector('meta[name="color-scheme"]')?.content || '',
  quote: (q => q && {size: getComputedStyle(q).fontSize, style: getComputedStyle(q).fontStyle})(
    document.querySelector('p.quote')),
  caption: (c => c && {size: getComputedStyle(c).fontSize, style: getComputedStyle(c).fontStyle,
    colour: getComputedStyle(c).color})(document.querySelector('p.caption')),
};
"""


def _hex_to_rgb(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("pictures", ["on", "off"])
def test_what_a_reader_sees(
    browser: Any,
    blind_browser: Any,
    pages: dict[str, Path],
    example: str,
    width: int,
    scheme: str,
    pictures: str,
    update_snapshots: bool,
) -> None:
    driver = browser if pictures == "on" else blind_browser
    show(driver, pages[f"{example}/premailer"], width, scheme, pictures=pictures == "on")
    seen = driver.execute_script(READER_VIEW, False)
    assert seen["scrollWidth"] <= seen["innerWidth"], "horizontal scrolling"
    if pictures == "on":
        for picture in seen["pictures"]:
            assert picture["naturalWidth"], f"{picture['alt']!r} did not load"
            natural = picture["naturalHeight"] / picture["naturalWidth"]
            rendered = picture["height"] / picture["width"]
            assert rendered == pytest.approx(natural, rel=0.02), picture
    if width < 480:
        small = [link for link in seen["links"] if link["width"] < 44 or link["height"] < 44]
        assert small == [], "tap targets under 44 x 44"
    assert [t for t in seen["texts"] if t["size"] < 13] == [], "text under 13 px"
    assert seen["leadSize"] >= 16
    newsletter = build_example(example).newsletter
    assert seen["footer"]["size"] == "13px"
    if example in DEFAULT_DESIGN:
        # The quote and the caption look as the design says, wherever they are read.
        assert seen["quote"] == {"size": "18px" if width < 480 else "20px", "style": "italic"}
        assert seen["caption"]["size"] == "13px" and seen["caption"]["style"] == "italic"
    if scheme == "light":
        assert seen["footer"]["colour"] == _hex_to_rgb(newsletter.brand.theme.muted)
        if example in DEFAULT_DESIGN:
            assert seen["caption"]["colour"] == _hex_to_rgb(newsletter.brand.theme.muted)
    elif "dark" in seen["schemes"]:
        assert brightness(seen["background"]) < 60
    else:  # a design that declares itself light only stays as it is
        assert brightness(seen["background"]) > 180
    readme_shot = example not in DEFAULT_DESIGN and (pictures, scheme) == ("on", "light")
    if update_snapshots and readme_shot and width in (375, 600):
        show(driver, pages[f"{example}/premailer"], width, scheme, height=1500)
        driver.save_screenshot(str(README_SHOTS / f"{example}-{width}-{scheme}.png"))


@pytest.mark.parametrize("example", sorted(EXAMPLE_EDITIONS))
@pytest.mark.parametrize("width", [320, 375])
def test_one_readable_column_without_style_blocks(
    browser: Any, pages: dict[str, Path], example: str, width: int
) -> None:
    show(browser, pages[f"{example}/premailer"], width, "light")
    seen = browser.execute_script(READER_VIEW, True)
    assert seen["scrollWidth"] <= seen["innerWidth"], "horizontal scrolling"
    for picture in seen["pictures"]:
        natural = picture["naturalHeight"] / picture["naturalWidth"]
        assert picture["height"] / picture["width"] == pytest.approx(natural, rel=0.02)
    # One column: every heading starts at the same left edge.
    lefts = browser.execute_script(
        "return [...document.querySelectorAll('h1, h2')].map(h => h.getBoundingClientRect().left)"
    )
    assert max(lefts) - min(lefts) <= 1


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("variant", [True, False])
def test_the_logo_on_light_and_dark_pages(
    browser: Any, tmp_path: Path, scheme: str, variant: bool
) -> None:
    images = (EXAMPLES / "tangerangnews" / "images").resolve().as_uri() + "/"
    digest = build_example("tangerangnews", images)
    logo = Logo(
        url="logo.png",
        alt="TangerangNews",
        width=200,
        height=40,
        dark_url="banten-sampah.png" if variant else None,
    )
    newsletter = changed(digest.newsletter, logo=logo)
    page = tmp_path / "logo.html"
    page.write_text(
        build_digest(
            digest.edition.articles,
            newsletter,
            digest.edition.date,
            options=digest.options,
            check=False,  # the pictures are local files
        ).html,
        "utf-8",
    )
    show(browser, page, 375, scheme)
    shown = browser.execute_script(
        """
        const link = document.querySelector('a.logo-link');
        return {
          images: [...link.querySelectorAll('img')]
            .filter(i => i.getBoundingClientRect().height > 0).map(i => i.src.split('/').pop()),
          plate: getComputedStyle(link).backgroundColor,
          height: link.getBoundingClientRect().height,
        };
        """
    )
    dark = variant and scheme == "dark"
    assert shown["images"] == ["banten-sampah.png" if dark else "logo.png"]
    # Without a dark variant the logo sits on a light plate, whatever the page's colour.
    assert shown["plate"] == ("rgba(0, 0, 0, 0)" if variant else "rgb(255, 255, 255)")
    assert shown["height"] >= 44
