"""The admin form for printers: connection settings as fields, the API key write-only.

Plug in with `form = PrinterAdminForm` on the printer ModelAdmin. The key field is never
filled in (the page shows the stored one masked); leaving it empty keeps the stored key.
Saving verifies the printer unless "verify" is unticked, and reads back the build volume of an
OctoPrint printer profile.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from farm.models import Printer
from farm.models.printer import ConnectionKind
from farm.services.printer_setup import printer_verify, validate_settings
from printers.secrets import decrypt, encrypt, masked

_OWN_KEYS = ("url", "port", "baud", "window")


class PrinterAdminForm(forms.ModelForm):
    url = forms.URLField(
        required=False, assume_scheme="http", help_text="OctoPrint: its URL, path prefix included."
    )
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="OctoPrint: the API key. Leave empty to keep the stored one.",
    )
    port = forms.CharField(
        required=False,
        help_text="Serial: e.g. /dev/serial/by-id/usb-... OctoPrint: the port it connects to "
        "(empty: OctoPrint's own choice).",
    )
    baud = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="Serial: empty means 115200. OctoPrint: empty means OctoPrint's own choice.",
    )
    window = forms.IntegerField(
        required=False, min_value=1, help_text="Serial: lines in flight (empty: from M115)."
    )
    verify = forms.BooleanField(
        required=False, initial=True, help_text="Talk to the printer before saving."
    )

    class Meta:
        model = Printer
        fields = (
            "name",
            "site",
            "model",
            "build_x_mm",
            "build_y_mm",
            "build_z_mm",
            "nozzle_mm",
            "material",
            "colour",
            "connection_kind",
            "connection_settings",
            "auto_eject",
            "enabled",
            "maintenance",
            "bed_clear",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.connection_settings or {}
        for key in _OWN_KEYS:
            if key in current:
                self.fields[key].initial = current[key]
        if self.instance.secret_encrypted:
            self.fields[
                "api_key"
            ].help_text = (
                f"Stored: {masked(self.instance.secret_encrypted)}. Leave empty to keep it."
            )
        if "connection_settings" in self.fields:
            self.fields["connection_settings"].required = False
            self.fields[
                "connection_settings"
            ].help_text = (
                "Other settings as JSON (simulator knobs, serial time-outs, pause G-code)."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = str(data.get("connection_kind") or ConnectionKind.SIMULATED)
        settings = {
            k: v
            for k, v in (data.get("connection_settings") or {}).items()
            if k not in (*_OWN_KEYS, "api_key")
        }
        if kind == ConnectionKind.OCTOPRINT:
            settings["url"] = data.get("url") or ""
            # The serial port and baud OctoPrint connects its printer with, when given.
            settings.update({k: data[k] for k in ("port", "baud") if data.get(k)})
        elif kind == ConnectionKind.SERIAL:
            settings.update(port=data.get("port") or "", baud=data.get("baud") or 115200)
            if data.get("window"):
                settings["window"] = data["window"]
        secret = data.get("api_key") or ""
        if not secret and self.instance.secret_encrypted:
            secret = decrypt(self.instance.secret_encrypted)
        try:
            validate_settings(kind, settings)
            if kind == ConnectionKind.OCTOPRINT and not secret:
                raise ValidationError("an OctoPrint printer needs an API key")
            if data.get("verify"):
                checked = printer_verify(kind=kind, settings=settings, secret=secret)
                if checked.build_volume_mm:
                    x, y, z = checked.build_volume_mm
                    data.update(build_x_mm=x, build_y_mm=y, build_z_mm=z)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        data["connection_settings"] = settings
        self._new_secret = data.get("api_key") or ""
        return data

    def save(self, commit: bool = True) -> Printer:
        printer: Printer = super().save(commit=False)
        printer.connection_settings = self.cleaned_data["connection_settings"]
        for name in ("build_x_mm", "build_y_mm", "build_z_mm"):
            setattr(printer, name, self.cleaned_data[name])
        if self._new_secret:
            printer.secret_encrypted = encrypt(self._new_secret)
        if commit:
            printer.save()
        return printer
