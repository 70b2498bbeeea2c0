"""The web layer: the Flask app factory and one blueprint per API family."""

from .app import create_app

__all__ = ["create_app"]
