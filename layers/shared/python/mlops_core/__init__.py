"""Shared library of the drift-monitored pipeline: pure decision logic plus thin AWS and MLflow adapters."""

__version__ = "0.1.0"
