"""Jinja templates (a package so that they install as ``grader/templates``)."""
