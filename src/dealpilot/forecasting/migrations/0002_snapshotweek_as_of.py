from django.db import migrations, models


def as_of_the_week(apps, schema_editor):
    """Weeks taken before the day was kept: the day they were taken."""
    SnapshotWeek = apps.get_model("forecasting", "SnapshotWeek")
    for week in SnapshotWeek.objects.filter(as_of__isnull=True):
        week.as_of = week.taken_at.date()
        week.save(update_fields=["as_of"])


class Migration(migrations.Migration):

    dependencies = [
        ("forecasting", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="snapshotweek",
            name="as_of",
            field=models.DateField(null=True, help_text="The day the deals are as of: the day it was taken (the demo's: reconstructed)"),
        ),
        migrations.RunPython(as_of_the_week, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="snapshotweek",
            name="as_of",
            field=models.DateField(help_text="The day the deals are as of: the day it was taken (the demo's: reconstructed)"),
        ),
    ]
