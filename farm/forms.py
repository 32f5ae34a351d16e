from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from farm.models import Material, Printer, Site
from farm.models.job import Priority, Supports
from farm.services.submission import upload_too_large_message
from slicing.intake import SUFFIXES


class JobSubmitForm(forms.Form):
    file = forms.FileField(
        required=False,
        help_text="A mesh (STL, OBJ, 3MF, PLY) or a G-code file.",
        widget=forms.ClearableFileInput(
            attrs={"accept": ",".join(f".{s}" for s in sorted(SUFFIXES))}
        ),
    )
    material = forms.ModelChoiceField(queryset=Material.objects.all(), empty_label=None)
    colour = forms.CharField(max_length=50, required=False, help_text="Empty = any colour.")
    quantity = forms.IntegerField(initial=1, min_value=None)
    priority = forms.TypedChoiceField(choices=Priority.choices, coerce=int, initial=Priority.NORMAL)
    due = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Optional.",
    )
    needed_at = forms.ModelChoiceField(
        queryset=Site.objects.all(),
        required=False,
        empty_label="Anywhere",
        label="Needed at",
        help_text="Printed at or near this site when that costs no more than a day.",
    )
    site = forms.ModelChoiceField(
        queryset=Site.objects.all(),
        required=False,
        empty_label="Any site",
        label="Print only at",
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000
    )
    supports = forms.TypedChoiceField(
        choices=Supports.choices,
        initial=Supports.AUTO,
        required=False,
        empty_value=Supports.AUTO,  # a form (or script) that does not say: the farm decides
        help_text="Under overhangs: they cost filament and time and leave marks to clean off.",
    )

    def __init__(self, *args: Any, upload_too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.upload_too_large = upload_too_large
        self.fields["file"].help_text += f" At most {settings.FARM_MAX_UPLOAD_MB} MB."
        # read in the person's zone (farm.local_time): say which
        zone = timezone.get_current_timezone_name()
        self.fields["due"].help_text = f"Optional; your time ({zone})."
        # Offer what the farm has loaded: the most common material first, its colours listed.
        loaded = Printer.objects.filter(enabled=True).exclude(material=None)
        common = loaded.values("material").annotate(n=Count("id")).order_by("-n").first()
        if common and not self.is_bound:
            self.initial.setdefault("material", common["material"])
        colours = sorted({c.lower() for c in loaded.values_list("colour", flat=True) if c})
        self.colours = colours
        self.fields["colour"].widget.attrs["list"] = "loaded-colours"

    def clean(self) -> dict[str, Any]:
        # The file and the order are checked once, by the service (`job_submit`), whose
        # errors the view puts on the form's fields; here only what the request itself says.
        data = super().clean() or {}
        if self.upload_too_large:
            self.add_error("file", upload_too_large_message())
        return data
