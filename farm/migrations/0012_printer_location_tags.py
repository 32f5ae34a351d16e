from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("farm", "0010_site_heartbeats"),
    ]

    operations = [
        migrations.AddField(
            model_name="printer",
            name="row",
            field=models.CharField(
                blank=True, help_text="Row or rack, e.g. A or R12.", max_length=50
            ),
        ),
        migrations.AddField(
            model_name="printer",
            name="position",
            field=models.PositiveIntegerField(default=0, help_text="Place in its row or rack."),
        ),
        migrations.AddField(
            model_name="printer",
            name="tags",
            field=models.CharField(
                blank=True,
                help_text="Comma-separated labels to filter by, e.g. 0.6mm.",
                max_length=200,
            ),
        ),
    ]
