"""Guidance that reaches people: what each person should do next, and why.

One place, read-only: it reads the domains' selectors (next steps, deal signals and scores, account
scores, plans, cadence, forecast) and writes nothing. The Today page, the agendas, the digests and
the alerts all call it, so a risk reads the same wherever it is shown.
"""
