"""Strawberry types, inputs, enums and scalars, and the assembled Schema."""
