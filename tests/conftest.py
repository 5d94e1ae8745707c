import pathlib
import sys

# Test helper modules (opcases, cases_*) import each other by plain module name.
for sub in ("graph",):
    sys.path.insert(0, str(pathlib.Path(__file__).parent / sub))
