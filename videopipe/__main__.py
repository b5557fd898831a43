"""``python -m videopipe`` == the ``videopipe`` command."""

from videopipe.cli.app import main

main()
