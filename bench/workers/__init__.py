"""Worker entry modules of the peer systems (and our bench-only job module)."""
