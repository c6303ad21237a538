"""Content-free mail notices to recipients: queued when sources send something, delivered
later in batches by a background job, retried, and visible to admins when they fail."""
