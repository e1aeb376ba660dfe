"""`python -m assessio_connect` runs the command line."""

from .tools.cli import main

main()
