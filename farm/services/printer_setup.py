"""Adding printers: one at a time (admin form, `manage.py add_printer`) or many from a CSV.

Every printer is verified before it is saved unless the caller says not to: an OctoPrint must
answer with the given key (its version, its connection state and its printer profile's build
volume are read back), a serial printer must answer M115. The API key is stored encrypted and
never put in connection_settings.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from farm.models import Material, Printer, Site
from farm.models.event import EventKind
from farm.models.printer import ConnectionKind
from farm.services.events import event_record
from printers.drivers.base import DriverError
from printers.secrets import encrypt

SECRET_SETTINGS = ("api_key",)  # never kept in connection_settings


@dataclass(frozen=True)
class Verification:
    summary: str  # for people: "OctoPrint 1.11.8, Operational, profile 200x200x200 mm"
    firmware: str = ""
    build_volume_mm: tuple[float, float, float] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def printer_verify(*, kind: str, settings: dict[str, Any], secret: str = "") -> Verification:
    """Talk to the printer once; raises ValidationError with a message for people."""
    try:
        if kind == ConnectionKind.OCTOPRINT:
            return _verify_octoprint(settings, secret)
        if kind == ConnectionKind.SERIAL:
            return _verify_serial(settings)
        if kind == ConnectionKind.SIMULATED:
            return Verification(summary="simulated printer", firmware="simulated")
    except DriverError as exc:
        raise ValidationError(f"verification failed: {exc.message}") from None
    raise ValidationError(f"unknown connection kind {kind!r}")


def _verify_octoprint(settings: dict[str, Any], secret: str) -> Verification:
    from printers.drivers.octoprint import OctoPrintDriver

    driver = OctoPrintDriver(device_id="verify", settings={**settings, "api_key": secret})
    caps = driver.capabilities()  # version and profile: a wrong key fails here
    connection = driver.connection_state()
    volume = caps.build_volume_mm
    shown = "x".join(f"{v:g}" for v in volume) + " mm" if volume else "no build volume"
    return Verification(
        summary=f"{caps.firmware}, {connection}, profile {shown}",
        firmware=caps.firmware,
        build_volume_mm=volume,
        details={"connection": connection, **caps.extras},
    )


def _verify_serial(settings: dict[str, Any]) -> Verification:
    """Never a second opener: a port the fleet link's serial host holds is verified from its
    last handshake (opening it again resets an idle board and ruins a print in progress);
    only a port nobody holds is opened and asked M115."""
    from printers.serialhost.channel import port_holder
    from printers.serialhost.probe import probe_firmware
    from printers.serialhost.settings import LinkSettings, SettingsError

    try:
        link_settings = LinkSettings.from_dict(settings)
    except SettingsError as exc:
        raise ValidationError(str(exc)) from None
    held = port_holder(link_settings.port)
    if held is not None:
        if held.firmware_fields is None:
            raise ValidationError(
                f"{link_settings.port} is held by the fleet link ({held.device_id}, "
                f"{held.state}{': ' + held.message if held.message else ''}) and has not "
                "answered M115 yet; save without verification or try again in a moment"
            )
        name, capabilities, fields = held.firmware, held.capabilities or {}, held.firmware_fields
        via = f", read from the fleet link's handshake on {held.device_id}"
    else:
        info = probe_firmware(link_settings)
        name, capabilities, fields, via = info.name, info.capabilities, info.fields, ""
    caps = ", ".join(sorted(k for k, v in capabilities.items() if v)) or "none reported"
    return Verification(
        summary=f"{name or 'unnamed firmware'} (capabilities: {caps}){via}",
        firmware=name,
        details={"capabilities": capabilities, "model": fields.get("MACHINE_TYPE")},
    )


def validate_settings(kind: str, settings: dict[str, Any]) -> None:
    if kind not in ConnectionKind.values:
        raise ValidationError(f"connection kind must be one of {', '.join(ConnectionKind.values)}")
    if kind == ConnectionKind.OCTOPRINT and not str(settings.get("url", "")).startswith(
        ("http://", "https://")
    ):
        raise ValidationError("an OctoPrint printer needs its url, e.g. http://octopi.local")
    if kind == ConnectionKind.SERIAL:
        from printers.serialhost.settings import LinkSettings, SettingsError

        try:
            LinkSettings.from_dict(settings)
        except SettingsError as exc:
            raise ValidationError(str(exc)) from None


def printer_add(
    *,
    name: str,
    site: Site,
    kind: str,
    settings: dict[str, Any],
    secret: str = "",
    verify: bool = True,
    actor: Any = None,
    **fields: Any,
) -> tuple[Printer, Verification | None]:
    """Verify (unless told not to) and save a printer; the secret is stored encrypted."""
    settings = {
        k: v for k, v in settings.items() if k not in SECRET_SETTINGS and v not in ("", None)
    }
    validate_settings(kind, settings)
    if kind == ConnectionKind.OCTOPRINT and not secret:
        raise ValidationError("an OctoPrint printer needs an API key")
    if Printer.objects.filter(name=name).exists():
        raise ValidationError(f"a printer named {name!r} exists already")
    checked = printer_verify(kind=kind, settings=settings, secret=secret) if verify else None
    if checked is not None and checked.build_volume_mm and "build_x_mm" not in fields:
        fields["build_x_mm"], fields["build_y_mm"], fields["build_z_mm"] = checked.build_volume_mm
    if not fields.get("model"):
        found = checked.details.get("model") if checked is not None else None
        fields["model"] = str(found or "unknown")[:100]
    printer = Printer(
        name=name,
        site=site,
        connection_kind=kind,
        connection_settings=settings,
        secret_encrypted=encrypt(secret),
        **fields,
    )
    printer.full_clean()
    with transaction.atomic():
        printer.save()
        event_record(
            EventKind.PRINTER_ADDED,
            printer=printer,
            actor=actor,
            message=checked.summary if checked else "added without verification",
        )
    return printer, checked


CSV_COLUMNS = ("name", "site", "kind", "model", "url", "api_key", "port", "baud", "window")
CSV_OPTIONAL = ("build_x_mm", "build_y_mm", "build_z_mm", "nozzle_mm", "material", "colour")


@dataclass(frozen=True)
class ImportResult:
    created: list[str]
    errors: list[str]  # "line 3 (mk4-07): ..." for each refused row; nothing is saved then


def printers_import_csv(*, text: str, verify: bool = True, actor: Any = None) -> ImportResult:
    """Add every printer of a CSV (header row: name,site,kind,model,url,api_key,port,baud,...).

    All or nothing: when any row is wrong (or fails verification), no printer is saved and
    every problem is reported at once, so the file can be fixed and imported again.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = {"name", "site", "kind"} - set(reader.fieldnames or [])
    if missing:
        return ImportResult([], [f"the header lacks {', '.join(sorted(missing))}"])
    created: list[str] = []
    errors: list[str] = []
    with transaction.atomic():
        for number, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                printer, _ = printer_add(actor=actor, verify=verify, **_row_to_add(row))
                created.append(printer.name)
            except ValidationError as exc:
                errors.append(
                    f"line {number} ({row.get('name') or '?'}): {'; '.join(exc.messages)}"
                )
        if errors:
            transaction.set_rollback(True)
            return ImportResult([], errors)
    return ImportResult(created, [])


def _row_to_add(row: dict[str, str]) -> dict[str, Any]:
    site = (
        Site.objects.filter(slug=row["site"]).first()
        or Site.objects.filter(name=row["site"]).first()
    )
    if site is None:
        raise ValidationError(f"no site {row['site']!r}")
    kind = row["kind"].lower()
    settings: dict[str, Any] = {}
    if kind == ConnectionKind.OCTOPRINT:
        settings["url"] = row.get("url", "")
    elif kind == ConnectionKind.SERIAL:
        settings = {"port": row.get("port", ""), "baud": row.get("baud") or 115200}
        if row.get("window"):
            settings["window"] = row["window"]
    fields: dict[str, Any] = {"model": row.get("model") or "unknown"}
    for column in ("build_x_mm", "build_y_mm", "build_z_mm", "nozzle_mm"):
        if row.get(column):
            try:
                fields[column] = float(row[column])
            except ValueError:
                raise ValidationError(f"{column} must be a number") from None
    if row.get("material"):
        material = Material.objects.filter(name=row["material"]).first()
        if material is None:
            raise ValidationError(f"no material {row['material']!r}")
        fields["material"] = material
    if row.get("colour"):
        fields["colour"] = row["colour"]
    return {
        "name": row["name"],
        "site": site,
        "kind": kind,
        "settings": settings,
        "secret": row.get("api_key", ""),
        **fields,
    }
