"""Sources: codenames, their derived keys, and the source's view of a conversation."""
