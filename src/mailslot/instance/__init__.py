"""Instance-wide settings: name, guidance for sources, policy switches."""
