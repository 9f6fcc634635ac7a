"""Completion webhooks: attaching one, where it may go, delivery, signatures."""
