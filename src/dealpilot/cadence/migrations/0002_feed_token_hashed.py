"""Calendar feed secrets are stored as their SHA-256: existing ones are hashed in place, so calendars
already subscribed keep working, and the plain secrets are dropped."""

import hashlib

from django.db import migrations, models


def hash_existing(apps, schema_editor):
    FeedToken = apps.get_model("cadence", "FeedToken")
    for token in FeedToken.objects.all():
        token.key_hash = hashlib.sha256(token.token.encode()).hexdigest()
        token.save(update_fields=["key_hash"])


class Migration(migrations.Migration):
    dependencies = [("cadence", "0001_initial")]

    operations = [
        migrations.AddField(model_name="feedtoken", name="key_hash", field=models.CharField(max_length=64, null=True)),
        migrations.RunPython(hash_existing, migrations.RunPython.noop),
        migrations.RemoveField(model_name="feedtoken", name="token"),
        migrations.AlterField(model_name="feedtoken", name="key_hash", field=models.CharField(max_length=64, unique=True)),
    ]
