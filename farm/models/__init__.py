from __future__ import annotations

from farm.models.api_token import TokenLabel
from farm.models.event import Event
from farm.models.job import Job
from farm.models.maintenance import MaintenanceHold, MaintenanceLog, MaintenanceSchedule
from farm.models.material import Material
from farm.models.notification import Notification, NotificationChannel, NotifyEvent
from farm.models.printer import Printer
from farm.models.profile import UserProfile
from farm.models.promise import PromiseChange
from farm.models.question import JobQuestion
from farm.models.quota import Quota
from farm.models.run import PrintRun
from farm.models.site import Site
from farm.models.spool import Spool, SpoolUse, StockThreshold
from farm.models.webhook import WebhookDelivery, WebhookEndpoint
from farm.models.work import FilamentDecline

__all__ = [
    "Event",
    "FilamentDecline",
    "Job",
    "JobQuestion",
    "MaintenanceHold",
    "MaintenanceLog",
    "MaintenanceSchedule",
    "Material",
    "Notification",
    "NotificationChannel",
    "NotifyEvent",
    "PrintRun",
    "Printer",
    "PromiseChange",
    "Quota",
    "Site",
    "Spool",
    "SpoolUse",
    "StockThreshold",
    "TokenLabel",
    "UserProfile",
    "WebhookDelivery",
    "WebhookEndpoint",
]
