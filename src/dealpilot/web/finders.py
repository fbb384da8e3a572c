"""A static-files finder for plotly.js: served from the installed `plotly` package (no CDN, no
copy in the repository) as the static file `plotly/plotly.min.js`."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
PREFIX = "plotly"
FILES = ("plotly.min.js",)


class PlotlyFinder(BaseFinder):
    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        prefix, _, name = path.partition("/")
        if prefix == PREFIX and name in FILES and (PLOTLY_DIR / name).is_file():
            found = str(PLOTLY_DIR / name)
            return [found] if (find_all or kwargs.get("all")) else found
        return [] if (find_all or kwargs.get("all")) else None

    def list(self, ignore_patterns):
        storage = FileSystemStorage(location=str(PLOTLY_DIR))
        storage.prefix = PREFIX
        for name in FILES:
            yield name, storage


# plotly.js adds <style> elements of its own unless one with the same id is already there: its rules go into
# "plotly.js-style-global", and the map library bundled with it (maplibre, unused here) writes its CSS into one
# named by a hash, once the script loads. The Content-Security-Policy refuses a <style> without the request's
# nonce, so web/_chart_scripts.html puts empty ones with these ids and the nonce in the page first.
PLOTLY_GLOBAL_STYLE_ID = "plotly.js-style-global"
_BUNDLED_STYLE = re.compile(r'document\.getElementById\("([0-9a-f]{32,128})"\)\)\{var \w+=document\.createElement\("style"\)')


@lru_cache(maxsize=1)
def plotly_style_ids() -> tuple[str, ...]:
    """The ids of the <style> elements plotly.min.js would otherwise create (read from the installed file)."""
    try:
        source = (PLOTLY_DIR / "plotly.min.js").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return (PLOTLY_GLOBAL_STYLE_ID,)
    return (PLOTLY_GLOBAL_STYLE_ID, *dict.fromkeys(_BUNDLED_STYLE.findall(source)))
