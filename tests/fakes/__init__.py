"""Loopback servers that reproduce backend APIs for contract tests."""
