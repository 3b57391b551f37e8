"""Analysis tools over the run directory's own records."""
