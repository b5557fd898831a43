"""Fixtures of the summarize tests."""

from tests.cli.conftest import videopipe  # noqa: F401 - the installed executable, as a fixture
