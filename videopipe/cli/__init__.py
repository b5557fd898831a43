"""The ``videopipe`` command line (typer). One module per command; ``app.py`` wires them."""
