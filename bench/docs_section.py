"""Writing a benchmark's figures into docs/benchmarks.md: its section between two markers is replaced (or
added at the end the first time), with the command that produced it."""

from __future__ import annotations

import sys
from pathlib import Path


def command_line(script: str, docs_path: Path) -> str:
    """The command as run, less --write-docs and its path (what a reader reruns)."""
    args = [a for a in sys.argv[1:] if not a.startswith("--write-docs") and a != str(docs_path)]
    return f"nice -n 10 .venv/bin/python {script} {' '.join(args)}".strip()


def write_section(path: Path, markers: tuple[str, str], title: str, command: str, text: str) -> None:
    doc = path.read_text() if path.exists() else ""
    section = f"{markers[0]}\n## {title}\n\n`{command}`\n\n{text}\n{markers[1]}"
    if markers[0] in doc and markers[1] in doc:
        head, rest = doc.split(markers[0], 1)
        doc = head + section + rest.split(markers[1], 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + section + "\n"
    path.write_text(doc)
