"""Benchmark harness: our job service vs stock ARQ, SAQ and taskiq on one Redis server.

Run with `make bench` (`bash bench/run.sh`). Modules here import nothing heavy at package
import time: the same package is imported by interpreters of different virtualenvs.
"""
