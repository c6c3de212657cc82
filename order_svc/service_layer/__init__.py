"""Use cases of the order service: one small function per command, query or event."""
