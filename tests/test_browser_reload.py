"""End-to-end (issue 16): what a shared link can do to a page, in headless Chromium.

The Feature maps page opened from a link with "Upload an image" selected accepts an
upload; text from a link shown in an error box renders as plain text (no link, no image).

AppTest reruns the whole script on every interaction, so it cannot show a fragment-only
rerun; the bug (the fragment wrote its sidebar expander only once an input existed, so a
fragment rerun after the upload raised StreamlitInvalidLayoutContextError) needs a browser.
"""

import os
import urllib.parse

import pytest
from PIL import Image

from browser_util import CHROMIUM, launch, wait_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


def _digit_png(path) -> None:
    img = Image.new("L", (32, 32))
    img.paste(255, (14, 4, 19, 28))  # a white "1" on black
    img.save(path, format="PNG")


@pytest.fixture(scope="module")
def server(lab_server):
    """The shared `streamlit run app.py` (conftest.lab_server) and a Chromium page: (base URL, page)."""
    from playwright.sync_api import sync_playwright

    url = lab_server
    with sync_playwright() as p:
        browser = launch(p)
        try:
            yield url, browser.new_page(viewport={"width": 1400, "height": 2400})
        finally:
            browser.close()


def test_features_upload_after_opening_a_link_on_upload(server, tmp_path):
    from playwright.sync_api import expect

    url, page = server
    image = tmp_path / "one.png"
    _digit_png(image)
    page.goto(f"{url}/features?feat_source=Upload+an+image")  # a shared link, or a reload
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Upload an image to see what the nets make of it").count() == 1
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(image))
    # The upload, then the rerun it starts: on a busy machine the page can look idle in between, so wait
    # (bounded) for what the rerun draws: both nets' attributions.
    expect(page.get_by_text("IG convergence delta")).to_have_count(2, timeout=120_000)
    wait_idle(page)
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.first.inner_text()
    assert page.get_by_text("Attribution settings").count() == 1  # the sidebar expander


def test_text_from_a_link_renders_as_plain_text(server):
    url, page = server
    evil = "**B**[click me](http://x) ![i](http://y) www.example.com a@b.org"
    page.goto(f"{url}/build_train?lr={urllib.parse.quote(evil)}")
    wait_idle(page)
    box = page.locator('[data-testid="stAlertContentError"]')
    assert box.count() == 1
    text = box.inner_text().replace("\u200b", "")
    assert "**B**[click me](http://x) ![i](http://y)" in text  # shown as typed
    assert box.locator("a, img, strong").count() == 0  # no live link, no image request, no bold
