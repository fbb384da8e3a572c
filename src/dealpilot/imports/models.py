from django.conf import settings
from django.db import models


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Imported"
    PARTIAL = "partial", "Imported, some rows rejected"
    REJECTED = "rejected", "Nothing imported (strict mode, rows rejected)"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """One run of an import, from the CLI or the web; progress lives in the cache while it runs."""

    kind = models.CharField(max_length=20)  # salesforce | hubspot | csv
    source_name = models.CharField(max_length=500)
    source_path = models.CharField(max_length=1000)
    mapping_path = models.CharField(max_length=1000, blank=True)
    strict = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    error_file = models.CharField(max_length=1000, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} import of {self.source_name} ({self.get_status_display()})"

    @property
    def progress_key(self) -> str:
        return f"import-progress:{self.pk}"


class Owner(models.TextChoices):
    CRM = "crm", "CRM wins"
    DEALPILOT = "dealpilot", "dealpilot keeps its value"


class ImportedRecord(models.Model):
    """What the last import wrote for one record: the baseline that tells an edit made in dealpilot
    (the record's value differs from what was imported) from a change made in the CRM (the export's
    value differs from what was imported), and the hash of the export's row, so that a re-import
    skips a row that has not changed before converting it (imports/sync.py)."""

    target = models.CharField(max_length=40)  # a mapping target: account, contact, opportunity ...
    crm_id = models.CharField(max_length=255)
    row_hash = models.CharField(max_length=64, null=True, blank=True)
    # {field: value as last imported}, for the records people edit in dealpilot; null: no baseline
    values = models.JSONField(null=True, blank=True)
    import_run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "crm_id"], name="imports_importedrecord_unique")]

    def __str__(self) -> str:
        return f"{self.target} {self.crm_id}"


class FieldOwner(models.Model):
    """Who owns a field on re-import when both the CRM and dealpilot changed it. A field without a
    row here is the CRM's (the default); an admin sets a field to dealpilot to keep dealpilot's value."""

    target = models.CharField(max_length=40)
    field = models.CharField(max_length=80)
    owner = models.CharField(max_length=20, choices=Owner.choices, default=Owner.CRM)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "field"], name="imports_fieldowner_unique")]

    def __str__(self) -> str:
        return f"{self.target}.{self.field}: {self.owner}"


class Resolution(models.TextChoices):
    CRM = "crm", "Kept the CRM's value"
    DEALPILOT = "dealpilot", "Kept dealpilot's value"


class SyncConflict(models.Model):
    """A field both the CRM and dealpilot changed since the last import, to different values. The
    import applied the field's owner (`kept`); the other value is kept here until an admin resolves it."""

    target = models.CharField(max_length=40)
    record_id = models.BigIntegerField()
    crm_id = models.CharField(max_length=255)
    record_label = models.CharField(max_length=300, blank=True)
    field = models.CharField(max_length=80)
    imported_before = models.TextField(blank=True, null=True)
    crm_value = models.TextField(blank=True, null=True)
    dealpilot_value = models.TextField(blank=True, null=True)
    # the values as they are written back: canonical text, or the linked record's id for a link
    raw = models.JSONField(default=dict, blank=True)
    kept = models.CharField(max_length=20, choices=Owner.choices)
    import_run = models.ForeignKey(ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="conflicts")
    created_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["resolved_at", "created_at"])]

    def __str__(self) -> str:
        return f"{self.target} {self.crm_id}.{self.field}"
