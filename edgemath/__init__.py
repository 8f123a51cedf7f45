"""edgemath: compress math-word-problem solvers for small devices."""
__version__ = "0.1.0"
