#!/usr/bin/env bash
# Benchmark harness entry point (`make bench`). Creates bench/.venv (project + harness + ARQ,
# SAQ) and bench/.venv-taskiq (taskiq needs redis>=8), then runs `python -m bench`.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
cd "$ROOT"
PY="${PYTHON:-python3}"

setup() {  # venv dir, stamp of what it holds, pip install args...
    local venv="$1" stamp="$2"; shift 2
    if [[ ! -x "$venv/bin/python" ]]; then
        "$PY" -m venv "$venv"
    fi
    if [[ "$(cat "$venv/.bench-stamp" 2>/dev/null)" != "$stamp" ]]; then
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
        echo "$stamp" > "$venv/.bench-stamp"
    fi
}

hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

main_args=(-r "$HERE/requirements.txt")
if [[ -f "$ROOT/pyproject.toml" ]]; then
    main_args=(-e "$ROOT" "${main_args[@]}")
fi
setup "$HERE/.venv" "$(hash_of "$HERE/requirements.txt" "$ROOT/pyproject.toml")" "${main_args[@]}"
setup "$HERE/.venv-taskiq" "$(hash_of "$HERE/requirements-taskiq.txt")" \
    -r "$HERE/requirements-taskiq.txt"

export BENCH_TASKIQ_PYTHON="$HERE/.venv-taskiq/bin/python"
exec timeout --signal=INT 590 "$HERE/.venv/bin/python" -m bench "$@"
