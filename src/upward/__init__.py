"""Upward: a multi-tenant GraphQL backend for talent mobility."""

__version__ = "0.1.0"
