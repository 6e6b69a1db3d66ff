"""Backends: helpdesks and stores, each behind the contracts in base.py."""
