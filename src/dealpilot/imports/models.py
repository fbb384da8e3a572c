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
