"""Packages of the four source folders, found rather than listed (pyproject.toml holds everything else)."""
from setuptools import find_packages, setup

FOLDERS = {"styleforge.train": "train", "styleforge.export": "export", "styleforge.runtime": "runtime",
           "styleforge.kernels": "kernels"}
packages = [name for name in FOLDERS] + [f"{name}.{sub}" for name, folder in FOLDERS.items()
                                         for sub in find_packages(folder)]
setup(packages=packages)
