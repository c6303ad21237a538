"""Cases (one per source and channel), their items and the key wraps that guard them."""
