"""Where the repository's own files are: every path a test reads is under ROOT."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
LANGUAGE_MD = ROOT / "docs" / "language.md"  # the language reference; its examples are tested
EXAMPLE_SPECS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and any(p.glob("*.wiam.*")))
