"""Build hook: compiles the C sandbox launcher with cffi (API mode).

Everything else (metadata, dependencies, entry points) lives in pyproject.toml.
"""
from setuptools import setup

setup(cffi_modules=["afbspawn/sandbox/launcher_build.py:ffibuilder"])
