"""Sealed drops on the server: each channel's drop keys, the organisation's signing key and
its append-only chain of key manifests, courier uploads, and opening drops for recipients."""
