"""Sources: codenames, their derived keys, and the source's use cases (a new codename and
submissions, logging in and forgetting, the conversation)."""
