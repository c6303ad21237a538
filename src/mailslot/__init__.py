"""Mailslot: a secure, anonymous tip line."""

__version__ = "0.1.0"
