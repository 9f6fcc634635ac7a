"""Jobs that depend on jobs: dependencies (`after=`), workflows and batches."""
