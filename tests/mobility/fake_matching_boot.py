"""Loaded first by the worker processes of test_workers.py: the stand-in matching."""

from tests.mobility.fake_matching import install

install()
