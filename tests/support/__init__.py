"""Tools the tests share (fixtures stay in conftest files; what they use lives here)."""
