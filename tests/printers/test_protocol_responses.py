from __future__ import annotations

import pytest

from printers.protocol.firmware import parse_capability_report
from printers.protocol.responses import (
    Busy,
    Echo,
    FirmwareError,
    Ok,
    Other,
    Resend,
    Started,
    TemperatureReport,
    parse_response,
    parse_temperatures,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ok", Ok()),
        ("ok N12 P15 B3", Ok(line=12, planner_free=15, buffer_free=3)),
        (
            "ok T:210.0 /210.0 B:60.0 /60.0",
            Ok(temperatures={"tool0": (210.0, 210.0), "bed": (60.0, 60.0)}),
        ),
        ("Resend: 42", Resend(42)),
        ("Resend:N42", Resend(42)),
        ("rs 7", Resend(7)),
        ("echo:busy: processing", Busy("processing")),
        ("busy: paused for user", Busy("paused for user")),
        (
            "Error:checksum mismatch, Last Line: 41",
            FirmwareError("checksum mismatch, Last Line: 41", wire=True, halted=False),
        ),
        (
            "Error:Line Number is not Last Line Number+1, Last Line: 3",
            FirmwareError(
                "Line Number is not Last Line Number+1, Last Line: 3", wire=True, halted=False
            ),
        ),
        (
            "Error:Printer halted. kill() called!",
            FirmwareError("Printer halted. kill() called!", wire=False, halted=True),
        ),
        (
            "Error:Printer stopped due to errors. Fix the error and use M999 to restart.",
            FirmwareError(
                "Printer stopped due to errors. Fix the error and use M999 to restart.",
                wire=False,
                halted=True,
            ),
        ),
        ("Error:MINTEMP triggered", FirmwareError("MINTEMP triggered", wire=False, halted=False)),
        ("!! Heater failure", FirmwareError("Heater failure", wire=False, halted=True)),
        (
            "T:21.5 /0.0 B:20.1 /0.0 @:0 B@:0",
            TemperatureReport({"tool0": (21.5, 0.0), "bed": (20.1, 0.0)}),
        ),
        ('echo:Unknown command: "G999"', Echo('Unknown command: "G999"')),
        ("start", Started()),
        ("FIRMWARE_NAME:Marlin", Other("FIRMWARE_NAME:Marlin")),
    ],
)
def test_it_parses_what_marlin_says(line: str, expected: object) -> None:
    assert parse_response(line) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("T:200.1 /200.0", {"tool0": (200.1, 200.0)}),
        (
            "T:200 /200 T0:201 /200 T1:150 /0 B:60 /60",
            {"tool0": (201.0, 200.0), "tool1": (150.0, 0.0), "bed": (60.0, 60.0)},
        ),
        (
            "T:25.0 B:24.0 C:30.5 /40",
            {"tool0": (25.0, None), "bed": (24.0, None), "chamber": (30.5, 40.0)},
        ),
        ("X:0 Y:0", {}),
    ],
)
def test_it_parses_temperature_reports(text: str, expected: dict) -> None:
    assert parse_temperatures(text) == expected


def test_it_reads_the_m115_capability_report() -> None:
    info = parse_capability_report(
        [
            "FIRMWARE_NAME:Marlin 2.1.2.1 (Sep 30 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
            "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 V2 EXTRUDER_COUNT:1 UUID:cede2a2f",
            "Cap:SERIAL_XON_XOFF:0",
            "Cap:AUTOREPORT_TEMP:1",
            "Cap:ADVANCED_OK:1",
            "ok",
        ]
    )
    assert info.name == "Marlin 2.1.2.1 (Sep 30 2023 12:00:00)"
    assert info.fields["MACHINE_TYPE"] == "Ender-3 V2"
    assert info.fields["EXTRUDER_COUNT"] == "1"
    assert info.is_marlin and info.autoreport_temp and info.advanced_ok
    assert info.capabilities["SERIAL_XON_XOFF"] is False


def test_a_firmware_without_caps_reports_none() -> None:
    info = parse_capability_report(["FIRMWARE_NAME:Prusa-Firmware 3.13.0 based on Marlin", "ok"])
    assert info.name == "Prusa-Firmware 3.13.0 based on Marlin"
    assert not info.advanced_ok and not info.autoreport_temp
