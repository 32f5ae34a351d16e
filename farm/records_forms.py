"""Forms of the records pages (maintenance, spools, notifications): input checks only; the
services decide."""

from __future__ import annotations

from typing import Any

from django import forms

from farm.models import MaintenanceSchedule, NotifyEvent, Printer, Spool
from farm.services.notifications import FARM_EVENTS


class MaintenanceWorkForm(forms.Form):
    printer = forms.ModelChoiceField(queryset=Printer.objects.order_by("name"))
    schedule = forms.ModelChoiceField(
        queryset=MaintenanceSchedule.objects.filter(active=True),
        required=False,
        help_text="Empty for unplanned work (a repair).",
    )
    note = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class SpoolForm(forms.ModelForm):
    class Meta:
        model = Spool
        fields = ["material", "colour", "vendor", "initial_g", "location"]
        labels = {"initial_g": "Filament (g)"}

    def save(self, commit: bool = True) -> Spool:
        spool: Spool = super().save(commit=False)
        spool.remaining_g = spool.initial_g
        if commit:
            spool.save()
        return spool


class SpoolLoadForm(forms.Form):
    # By name, typed or picked from one datalist: a select per spool row would repeat every
    # printer of the farm on every row.
    printer = forms.ModelChoiceField(queryset=Printer.objects.all(), to_field_name="name")


class ChannelForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)
    url = forms.CharField(
        max_length=1000,
        label="Apprise URL",
        help_text="e.g. mailtos://user:password@smtp.example.com, json://host/path, "
        "slack://…, tgram://…; kept encrypted, never shown again.",
        widget=forms.PasswordInput(render_value=False),
    )
    events = forms.MultipleChoiceField(
        choices=NotifyEvent.choices, widget=forms.CheckboxSelectMultiple
    )
    quiet_from_hour = forms.IntegerField(min_value=0, max_value=23, required=False)
    quiet_until_hour = forms.IntegerField(min_value=0, max_value=23, required=False)
    timezone = forms.CharField(
        max_length=64, required=False, help_text="e.g. Europe/Berlin; empty: the farm's."
    )

    def __init__(self, *args: Any, operator: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not operator:  # the farm's events are the operators'
            events: Any = self.fields["events"]
            events.choices = [c for c in NotifyEvent.choices if c[0] not in FARM_EVENTS]
