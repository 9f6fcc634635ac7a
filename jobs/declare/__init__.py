"""Declaring jobs: `@job`, the catalog, what a job gets (`JobContext`) and raises."""
