from __future__ import annotations

from django.apps import AppConfig


class SlicingConfig(AppConfig):
    name = "slicing"
    verbose_name = "Slicing"
