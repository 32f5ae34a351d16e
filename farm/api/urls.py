"""The REST API under /api/v1/ (namespace "api") and the OctoPrint-compatible upload under
/octoprint/ (namespace "octoprint"; a slicer's host is http://farm/octoprint)."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from farm.api import octoprint_compat, records, views

router = DefaultRouter(trailing_slash=True)
router.register("jobs", views.JobViewSet, basename="job")
router.register("printers", views.PrinterViewSet, basename="printer")
router.register("sites", views.SiteViewSet, basename="site")
router.register("queue", views.QueueViewSet, basename="queue")
router.register("materials", views.MaterialViewSet, basename="material")
router.register("tokens", views.TokenViewSet, basename="token")
router.register("spools", records.SpoolViewSet, basename="spool")
router.register("plan", records.PlanViewSet, basename="plan")

api_patterns = [
    path("", include(router.urls)),
    path("stock/", records.StockView.as_view(), name="stock"),
    path("reports/", records.ReportView.as_view(), name="reports"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI, whose split view serves its start-up script as a file (the CSP allows no
    # inline script). Not Redoc: its page asks for fonts and a logo from elsewhere, and a
    # worker from a blob: URL, all of which the CSP refuses.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"", views.NoSuchEndpoint.as_view()),  # last: JSON, not the site's HTML 404
]

octoprint_patterns = [
    path("api/version", octoprint_compat.VersionView.as_view(), name="version"),
    path("api/files/local", octoprint_compat.FilesLocalView.as_view(), name="files-local"),
]
