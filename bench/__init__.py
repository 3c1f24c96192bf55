"""Benchmarks and the soak test: tools run by hand or in a short form by the test suite."""
