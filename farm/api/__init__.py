"""The REST API (Django REST Framework) and the OctoPrint-compatible upload for slicers."""
