"""`python -m wiam`: the same command line as the `wiam` script."""

from .cli import main

main()
