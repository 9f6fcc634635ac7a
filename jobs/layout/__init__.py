"""The Redis layout: the only code that knows keys, stored values and Lua.

Every key (`keys`), every stored value's codec (`records`, `results`), the connection
(`connection`), and the scripts (`scripts`, `lua/`). It imports nothing above it."""
