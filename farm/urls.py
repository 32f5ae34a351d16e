from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from farm.api.urls import api_patterns, octoprint_patterns
from farm.views import (
    approvals,
    audit,
    bulk,
    employee,
    fleet,
    notifications,
    operator,
    printer_page,
    queue,
    records,
    stats,
    work,
)

urlpatterns = [
    path("", employee.home, name="home"),
    path("jobs/", employee.my_jobs, name="my-jobs"),
    path("jobs/new/", employee.job_new, name="job-new"),
    path("jobs/<int:job_id>/", employee.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/thumbnail.png", employee.job_thumbnail, name="job-thumbnail"),
    path("jobs/<int:job_id>/layers/<int:layer>.svg", employee.job_layer_svg, name="job-layer"),
    path("jobs/<int:job_id>/confirm/", employee.job_confirm_view, name="job-confirm"),
    path("jobs/<int:job_id>/cancel/", employee.job_cancel_view, name="job-cancel"),
    path("jobs/<int:job_id>/answer/", employee.job_answer_view, name="job-answer"),
    path("jobs/<int:job_id>/turntable.png", employee.job_turntable, name="job-turntable"),
    path("jobs/<int:job_id>/approve/", approvals.job_approve_view, name="job-approve"),
    path("jobs/<int:job_id>/refuse/", approvals.job_refuse_view, name="job-refuse"),
    path("operator/", operator.dashboard, name="operator-dashboard"),
    path("operator/audit/", audit.audit_log, name="audit-log"),
    path("operator/fleet/", fleet.fleet, name="fleet"),
    path("operator/fleet/changes/", fleet.fleet_changes, name="fleet-changes"),
    path("operator/fleet/bulk/", bulk.fleet_bulk, name="fleet-bulk"),
    path("operator/work/", work.work, name="work"),
    path("operator/work/beds/", work.work_beds, name="work-beds"),
    path("operator/work/filament/", work.work_filament, name="work-filament"),
    path(
        "operator/work/filament/<int:printer_id>/decline/",
        work.work_filament_decline,
        name="work-filament-decline",
    ),
    path("operator/work/declines/lift/", work.work_declines_lift, name="work-declines-lift"),
    path("operator/queue/", queue.queue, name="queue"),
    path("operator/queue/act/", queue.queue_act, name="queue-act"),
    path("operator/printers/<int:printer_id>/", printer_page.printer_page, name="printer-page"),
    path(
        "operator/printers/<int:printer_id>/live.json",
        printer_page.printer_live_json,
        name="printer-live",
    ),
    path(
        "operator/printers/<int:printer_id>/control/",
        printer_page.printer_control,
        name="printer-control",
    ),
    path(
        "operator/printers/<int:printer_id>/clear/",
        operator.printer_bed_clear,
        name="printer-bed-clear",
    ),
    path(
        "operator/printers/<int:printer_id>/filament/",
        operator.printer_filament_loaded,
        name="printer-filament-loaded",
    ),
    path(
        "operator/printers/<int:printer_id>/<str:command>/",
        operator.printer_command,
        name="printer-command",
    ),
    path("operator/runs/<int:run_id>/<str:decision>/", operator.run_decide, name="run-decide"),
    path("operator/maintenance/", records.maintenance, name="maintenance"),
    path("operator/maintenance/work/", records.maintenance_work, name="maintenance-work"),
    path("operator/spools/", records.spools, name="spools"),
    path("operator/spools/<int:spool_id>/<str:action>/", records.spool_action, name="spool-action"),
    path("operator/stats/", stats.stats, name="stats"),
    path("operator/stats/<str:section>.csv", stats.stats_csv, name="stats-csv"),
    path("notifications/", notifications.channels, name="notifications"),
    path(
        "notifications/<int:channel_id>/<str:action>/",
        notifications.channel_action,
        name="notification-action",
    ),
    path("api/v1/", include((api_patterns, "api"))),
    path("octoprint/", include((octoprint_patterns, "octoprint"))),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
]
