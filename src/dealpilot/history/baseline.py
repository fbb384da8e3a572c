"""A baseline before the first recorded change.

Most records arrive by import, which writes in bulk with SQL and records no history per row. The
first change made in dealpilot would then have nothing to compare with, and the history could not
say what a field was before. So, just before a record with no history yet is changed, its stored
values are written as a baseline entry (dated at its last update, no user): one EXISTS query per
save of a tracked record, and one extra row once per record."""

from django.db.models.signals import pre_save

BASELINE_REASON = "baseline"


def tracked_models():
    from django.apps import apps

    return [m for m in apps.get_models() if hasattr(m._meta, "simple_history_manager_attribute")]


def record_baseline(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance._state.adding or instance.pk is None:
        return
    history = getattr(sender, sender._meta.simple_history_manager_attribute)
    if history.filter(**{sender._meta.pk.attname: instance.pk}).exists():
        return
    stored = sender._base_manager.filter(pk=instance.pk).first()
    if stored is None:
        return
    stored._history_user = None  # the values came from an import, or from before history was kept
    history.bulk_history_create([stored], update=True, default_change_reason=BASELINE_REASON,
                                default_date=getattr(stored, "updated_at", None))


def connect() -> None:
    for model in tracked_models():
        pre_save.connect(record_baseline, sender=model, dispatch_uid=f"history-baseline-{model._meta.label}")
