"""Putting jobs on their queue, and taking them off again (abort)."""
