from __future__ import annotations

from farm.models.event import Event
from farm.models.job import Job
from farm.models.material import Material
from farm.models.printer import Printer
from farm.models.run import PrintRun
from farm.models.site import Site

__all__ = ["Event", "Job", "Material", "PrintRun", "Printer", "Site"]
