import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("farm", "0013_records"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="held",
            field=models.BooleanField(default=False, help_text="Held by an operator: not planned."),
        ),
        migrations.CreateModel(
            name="FilamentDecline",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("colour", models.CharField(blank=True, max_length=50)),
                ("reason", models.CharField(blank=True, max_length=200)),
                ("declined_at", models.DateTimeField(auto_now_add=True)),
                ("until", models.DateTimeField(db_index=True)),
                (
                    "declined_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "job",
                    models.ForeignKey(
                        blank=True,
                        help_text="The job the request was for, when known.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="farm.job",
                    ),
                ),
                (
                    "material",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="farm.material",
                    ),
                ),
                (
                    "printer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="filament_declines",
                        to="farm.printer",
                    ),
                ),
            ],
            options={"ordering": ["-declined_at"]},
        ),
    ]
