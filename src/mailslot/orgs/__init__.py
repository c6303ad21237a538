"""Organisations: many tip lines on one install, each isolated by construction (its own
database or schema, blob directory or prefix, tor directory and keys), listed in a host
registry that is no organisation's database. See docs/hosting.md."""
