"""Shared test setup."""

import sys

# Importing the package must leave no __pycache__ inside tenantry_client/generated:
# the project's test suite diffs that folder against a fresh generation.
sys.dont_write_bytecode = True
