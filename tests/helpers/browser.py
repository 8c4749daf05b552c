"""A real browser for the tests: headless Chromium (Debian's ``chromium``) renders a page to its DOM or a PNG."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

from tests.helpers.fixtures import missing

#: the names Chromium's binary goes by (Debian, Ubuntu's older package, Google's build)
BINARIES = ("chromium", "chromium-browser", "google-chrome")
#: a laptop screen and a phone (an iPhone 12-15's CSS pixels), as ``--window-size`` takes them
LAPTOP, PHONE = (1366, 900), (390, 844)


def chromium() -> str:
    """The Chromium binary; skips the test where there is none (fails under CI, which installs it)."""
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    missing(f"no headless browser ({', '.join(BINARIES)}) on PATH: apt-get install chromium")
    raise AssertionError("unreachable")  # missing() skips or fails


def artifacts(tmp_path: Path, name: str) -> Path:
    """Where a test keeps what a person may want to look at: ``$PROMPTLEARN_TEST_ARTIFACTS/name``, else tmp_path."""
    root = os.environ.get("PROMPTLEARN_TEST_ARTIFACTS")
    folder = Path(root) / name if root else tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def render(page: Path, profile: Path, *, dump_dom: bool = False, screenshot: Path | None = None,
           size: tuple[int, int] = LAPTOP) -> str:  # fmt: skip
    """Run headless Chromium on the local file ``page``: its DOM after loading (``dump_dom``), or a PNG of
    the first ``size`` pixels to ``screenshot``. ``profile`` is a fresh user-data folder, so nothing of the
    user's browser is read or written; ``--no-sandbox`` lets it run as root in a container."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"]  # fmt: skip
    if dump_dom:
        args.append("--dump-dom")
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    done = subprocess.run([*args, page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def visible_text(dom: str) -> str:
    """The text of a DOM outside <style>, <script> and <head>, whitespace collapsed."""
    parser = _Text()
    parser.feed(dom)
    return " ".join(" ".join(parser.parts).split())


#: elements whose text a reader does not see
HIDDEN = frozenset({"style", "script", "head", "title"})


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in HIDDEN

    def handle_endtag(self, tag):
        self.hidden -= tag in HIDDEN

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)
