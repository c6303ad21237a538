"""Channels: where a source sends a report, and which recipients receive it."""
