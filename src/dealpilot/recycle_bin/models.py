"""Soft delete: a record deleted in dealpilot goes to the recycle bin (``deleted_at`` is set) and
can be restored for `settings.RECYCLE_BIN_DAYS`; `dealpilot purge-recycle-bin` deletes it for good
afterwards.

A model in the bin keeps two managers: ``objects`` (the default manager) hides deleted rows, so
every list, count, ``visible_to`` and related manager (``account.opportunities``) leaves them out
without each query having to remember; ``all_objects`` sees them (the bin, restore, purge). Django's
base manager stays unfiltered, so a child's ``line_item.opportunity`` still resolves and cascades
still reach deleted rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class HideDeletedManager(models.Manager):
    """The default manager of a model with a recycle bin: rows in the bin are not there."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


def alive_manager(queryset_class: type[models.QuerySet]) -> models.Manager:
    """``objects`` for a soft-deletable model whose queryset has methods of its own (visible_to)."""
    return HideDeletedManager.from_queryset(queryset_class)()


class SoftDeletable(models.Model):
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False,
                                      help_text="When the record went to the recycle bin (empty: not deleted)")
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None
