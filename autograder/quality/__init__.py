"""Checks of the kit itself: tests against the reference, the stubs, known bugs and degenerate submissions; leaks."""
