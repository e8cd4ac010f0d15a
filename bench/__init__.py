"""Benchmarks of marketsvc, each against a baseline it runs in the same go."""
