"""A static-files finder for plotly.js: served from the installed `plotly` package (no CDN, no
copy in the repository) as the static file `plotly/plotly.min.js`."""

from __future__ import annotations

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
