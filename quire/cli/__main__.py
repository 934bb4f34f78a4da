"""`python -m quire.cli`: the `quire` command."""

from quire.cli import run

run()
