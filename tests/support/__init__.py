"""The tests' shared vocabulary: paths, spec builders, the CLI runner and the git helper.

Fixtures live in tests/conftest.py; everything a test imports by name lives here."""
