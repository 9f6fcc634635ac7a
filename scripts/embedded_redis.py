"""The embedded Valkey lives in `jobs.layout.embedded_server` (the test kit ships in the wheel,
`scripts/` does not); the launcher, the suite and the bench import it from here too."""

from jobs.layout.embedded_server import EmbeddedRedis, free_port, free_ports, port_in_use

__all__ = ["EmbeddedRedis", "free_port", "free_ports", "port_in_use"]
