"""The chaos harness (`make chaos`): producers and real worker processes run through scheduled
faults (`faults`) while every operation is recorded with the server's time (`history`); the
checker (`checker`) then says what the history must never show. `run` is one run; `stack` the
processes it drives; `proxy` the bad network between a worker and Redis."""
