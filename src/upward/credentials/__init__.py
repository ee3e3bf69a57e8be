"""Credentials and compliance: types, requirements, credentials held, evidence, compliance."""
