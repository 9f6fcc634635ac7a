"""Golden files: what the service must keep byte for byte across refactors."""
