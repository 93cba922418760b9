"""Load tests: concurrent writers and importers, every read checked."""
