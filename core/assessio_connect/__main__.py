"""`python -m assessio_connect` runs the command line."""

from .cli import main

main()
