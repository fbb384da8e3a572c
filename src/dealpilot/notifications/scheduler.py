"""The periodic jobs `dealpilot serve` runs beside the web app and the task worker (APScheduler):

- every 2 minutes: the alert scan (what changed since the last one), then any delivery due a retry;
- every 15 minutes: the daily and weekly digests of the people whose local morning has come
  (each is made once per person and day, so a restart or a second scheduler sends nothing twice);
- every night at 01:30: the forecast's weekly snapshot, once per ISO week (the first night of the week);
- every night at 02:30: rescore the open deals (the signals stored with a score go stale as days
  pass without activity), then scan, so new vulnerabilities reach their owners by the morning.

Run as its own process: `python -m dealpilot.notifications.scheduler`."""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone as dt_timezone

log = logging.getLogger("dealpilot.notifications")


def _job(func):
    """Each run gets fresh database connections and logs (never raises into the scheduler)."""

    def run():
        from django.db import close_old_connections

        close_old_connections()
        try:
            func()
        except Exception:  # a job that fails is logged and runs again at its next time
            log.exception("scheduled job %s failed", func.__name__)
        finally:
            close_old_connections()

    run.__name__ = func.__name__
    return run


def alerts_and_retries() -> None:
    from . import alerts, delivery

    result = alerts.scan()
    retried = delivery.send_pending()
    if result.events or retried.sent or retried.failed:
        log.info("alerts: %d new event(s), %d notified; deliveries sent %d, failed %d", len(result.events), result.notified,
                 retried.sent, retried.failed)


def due_digests() -> None:
    from .digests import run_digests

    for period in ("daily", "weekly"):
        run = run_digests(period, due_only=True)
        if run.made:
            log.info("%s digests: %d made, %d sent, %d failed", period, len(run.made), run.sent.sent, run.sent.failed)


def nightly_rescore() -> None:
    from dealpilot.deals.scoring import score_open_deals

    log.info("rescored %d open deals", score_open_deals())
    alerts_and_retries()


def weekly_snapshot() -> None:
    """The forecast's weekly snapshot: taken once per ISO week (a second run that week writes nothing), so a
    daily run takes it on Monday night, or on the first night the server is up after a Monday it missed."""
    from dealpilot.forecasting.services import take_snapshot

    result = take_snapshot()
    if result.taken:
        log.info("forecast snapshot: %s", result.summary())


def build_scheduler(blocking: bool = True):
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler
    from django.conf import settings

    # one run at a time per job; a run missed while the machine slept happens once, not many times
    defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 600}
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(job_defaults=defaults, timezone=settings.TIME_ZONE)
    # the first runs at start: a restart catches up on the morning's digests and what changed meanwhile
    soon = datetime.now(dt_timezone.utc) + timedelta(seconds=20)
    scheduler.add_job(_job(alerts_and_retries), "interval", minutes=2, id="alerts", next_run_time=soon)
    scheduler.add_job(_job(due_digests), "interval", minutes=15, id="digests", next_run_time=soon + timedelta(seconds=30))
    scheduler.add_job(_job(weekly_snapshot), "cron", hour=1, minute=30, id="snapshot")
    scheduler.add_job(_job(nightly_rescore), "cron", hour=2, minute=30, id="rescore")
    return scheduler


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealpilot.settings")
    import django

    django.setup()
    # what was sent is worth a line in `serve`'s output (the root logger shows warnings only)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    scheduler = build_scheduler()
    log.info("scheduler: alerts every 2 min, digests every 15 min (local mornings), rescoring at 02:30")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
