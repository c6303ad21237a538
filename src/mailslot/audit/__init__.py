"""The audit trail: an append-only, hash-chained log of staff actions and content access."""
