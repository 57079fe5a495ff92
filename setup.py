"""Shim so pip can do an editable install; everything is declared in setup.cfg."""

from setuptools import setup

setup()
