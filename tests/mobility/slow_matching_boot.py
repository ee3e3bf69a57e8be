"""Loaded first by the worker processes of test_workers.py: the real matching, slowed down."""

from tests.mobility.slow_matching import install

install()
