"""Every exception of the slicing package.

A refusal (`SlicingError` and below) carries a message for people: the farm shows it to the
employee who uploaded the file. Anything else that escapes slicing (a bare ValueError, an
IndexError) is a programming error and must not be shown as a rejection reason.
"""

from __future__ import annotations


class SlicingError(ValueError):
    """The file cannot be printed; the message says why, for people."""


class IntakeError(SlicingError):
    """The upload is not something we can print (the cheap first look in the web request)."""


class PrepareError(SlicingError):
    """`prepare()` or `check_gcode_for_printer()` refuses the file; what their callers catch."""


class MeshError(PrepareError):
    """The file is not a usable mesh."""


class GcodeRefused(PrepareError):
    """The G-code must not be printed on this printer."""


class GcodePolicyError(GcodeRefused):
    """The G-code sends commands no print job may send (slicing.gcode_policy): it must not be
    printed on any printer, whichever the farm tries."""


class PartTooLargeError(PrepareError):
    """The part or the G-code does not fit this printer's build volume.

    Raised only where the build volume of the one printer asked about is the reason, so a
    printer with a bigger bed may take the file. A part that fits no printer of the farm
    raises MeshError instead.
    """


class EngineError(RuntimeError):
    """An external slicer failed; `permanent` says whether retrying could help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent
