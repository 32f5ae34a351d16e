"""The farm's rules, as functions named `<entity>_<verb>` with keyword-only arguments.

Views, admin actions, management commands and Celery tasks all call these; none of them holds
rules of its own.
"""
