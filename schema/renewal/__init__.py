"""Contracts over time: renewal, the window, signed changes to the next term."""
