"""The REST API: ``create_app(settings)`` (see :mod:`api.app`)."""

from api.app import create_app

__all__ = ["create_app"]
