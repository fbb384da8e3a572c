"""Read paths for imports: the re-import conflicts an admin resolves, and the field owners."""

from __future__ import annotations

from .models import FieldOwner, Owner, SyncConflict


def conflicts(state: str = "open"):
    """Conflicts, newest first: "open" (not resolved), "resolved" or "all"."""
    queryset = SyncConflict.objects.select_related("import_run", "resolved_by")
    if state == "open":
        return queryset.filter(resolved_at__isnull=True)
    if state == "resolved":
        return queryset.filter(resolved_at__isnull=False)
    return queryset


def field_owners() -> list[dict]:
    """Every field an admin may hand to dealpilot, with its owner now (the CRM unless set)."""
    from .services import ownable_fields

    set_to = {(o.target, o.field): o.owner for o in FieldOwner.objects.all()}
    return [{"target": target, "field": name, "owner": set_to.get((target, name), Owner.CRM)}
            for target, names in ownable_fields().items() for name in names]
