import os
import pathlib
import sys
import tempfile

from hypothesis import settings

# Test helper modules (opcases, cases_*) import each other by plain module name.
for sub in ("graph",):
    sys.path.insert(0, str(pathlib.Path(__file__).parent / sub))

# Compiled object code goes to a private cache for the test session, not ~/.cache.
os.environ.setdefault("TENSORJIT_CACHE_DIR", tempfile.mkdtemp(prefix="tensorjit-test-cache-"))

# CI (CI=true) draws the same hypothesis examples on every run, so a red build reproduces.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
