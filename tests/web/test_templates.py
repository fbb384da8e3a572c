"""Template source mistakes that render as text on the page instead of failing."""

from pathlib import Path

import dealpilot

SOURCE = Path(dealpilot.__file__).parent


def test_no_template_comment_spans_lines():
    # Django's {# #} comment is one line only: a second line makes the whole comment appear on the page
    broken = [f"{path.relative_to(SOURCE)}:{number}"
              for path in SOURCE.rglob("templates/**/*.html")
              for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
              if "{#" in line and "#}" not in line.split("{#", 1)[1]]
    assert not broken, f"use {{% comment %}} for comments over several lines: {broken}"
