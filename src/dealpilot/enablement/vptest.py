"""The value-proposition test (domain brief section 7, seed 002): seven questions the author
answers, and hints where the text itself can tell (a measurable claim has a number or metric, a
time-bound one names a period, an easy-to-remember one is short). The hints advise; the author's
answers are what the module shows."""

from __future__ import annotations

import re
from dataclasses import dataclass

QUESTIONS = (
    ("different", "Different", "Is it different from what competitors and the status quo offer?"),
    ("compelling", "Compelling", "Is it compelling enough for the buyer to act now?"),
    ("tailored", "Tailored", "Is it tailored to this buyer's role, industry and situation?"),
    ("measurable", "Measurable", "Is the value measurable (a number or a metric)?"),
    ("time_bound", "Time-bound", "Does it say by when the value arrives?"),
    ("memorable", "Easy to remember", "Is it short and easy to remember?"),
    ("defendable", "Defendable", "Can you defend it with evidence (references, data)?"),
)
QUESTION_KEYS = tuple(k for k, _label, _q in QUESTIONS)
MAX_MEMORABLE_WORDS = 25

_NUMBER = re.compile(r"\d")
_METRIC = re.compile(r"\b(percent|per cent|%|hours?|minutes?|days?|costs?|revenue|margin|roi|payback|rate|reduc\w*|increas\w*|"
                     r"cut\w*|sav\w*|double|half|halve\w*|twice|times)\b|%", re.I)
_PERIOD = re.compile(r"\b(\d+\s*(days?|weeks?|months?|quarters?|years?)|within|by (the end of |end of )?(q[1-4]|\d{4}|"
                     r"january|february|march|april|may|june|july|august|september|october|november|december|year|quarter)|"
                     r"in (the )?first (\d+|one|two|three|six|twelve) (days?|weeks?|months?|quarters?)|"
                     r"per (month|quarter|year)|quarter|q[1-4]|next (month|quarter|year)|first year)\b", re.I)


@dataclass
class Hint:
    key: str
    label: str
    ok: bool | None  # None: text cannot tell, the author's answer decides
    message: str


def hints(statement: str, answers: dict | None = None) -> list[Hint]:
    """A hint per question for a value-proposition statement and the author's answers."""
    answers = answers or {}
    text = " ".join((statement or "").split())
    words = len(text.split())
    out = []
    for key, label, _question in QUESTIONS:
        answer = (answers.get(key) or "").strip()
        if key == "measurable":
            has_number, has_metric = bool(_NUMBER.search(text)), bool(_METRIC.search(text))
            ok = has_number and has_metric
            message = ("Names a number and a metric." if ok else
                       "Has a number, but say what it measures (hours, %, cost...)." if has_number else
                       "No number yet: a measurable claim quantifies the result (e.g. 'cuts close time by 40%').")
        elif key == "time_bound":
            ok = bool(_PERIOD.search(text))
            message = "Names a period." if ok else "No period yet: say by when the value arrives (e.g. 'within 90 days')."
        elif key == "memorable":
            ok = 0 < words <= MAX_MEMORABLE_WORDS
            message = (f"{words} words: short enough to remember." if ok else
                       "Write the statement first." if not words else
                       f"{words} words: try to stay under {MAX_MEMORABLE_WORDS + 1}.")
        else:
            ok = None
            message = "Answered by the author." if answer else "Only you can tell: answer it below."
        out.append(Hint(key=key, label=label, ok=ok, message=message))
    return out


def clean_answers(raw: dict) -> dict:
    """The author's answers, only for the seven questions, trimmed."""
    return {k: str(raw.get(k) or "").strip()[:1000] for k in QUESTION_KEYS if str(raw.get(k) or "").strip()}
