from __future__ import annotations

from django.apps import AppConfig


class PrintersConfig(AppConfig):
    name = "printers"
    verbose_name = "Printers"
