"""The demo organisation's records of this app, added by `dealpilot demo` after the CRM import.

`seed_demo()` runs at every `dealpilot demo` start, inside a transaction, and must be idempotent
(it adds what is missing and leaves what a user changed alone).
"""


def seed_demo() -> None:
    return None
