"""`make run`: an embedded Valkey when `REDIS_URL` is unset, then the Procfile via honcho.

Ctrl-C stops the web and worker processes, then the embedded server: nothing is left running.
"""

import os
import subprocess
import sys

from scripts.embedded_redis import EmbeddedRedis


def main() -> int:
    port = os.environ.setdefault("PORT", "8000")
    # The Procfile's commands (uvicorn, python) must be this virtualenv's.
    bin_dir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    server = None
    if not os.environ.get("REDIS_URL"):
        server = EmbeddedRedis().start()
        os.environ["REDIS_URL"] = server.url
        print(f"embedded Valkey at {server.url}", flush=True)
    print(f"API: http://127.0.0.1:{port}   docs: http://127.0.0.1:{port}/docs", flush=True)
    try:
        # honcho exits on Ctrl-C after stopping its children.
        return subprocess.call(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-p", port]
        )
    except KeyboardInterrupt:
        return 0
    finally:
        if server:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
