"""Helpers shared by every stage: parameters, atomic outputs, reject records."""
