"""Map the repo-root folders engine/, api/, tools/ into the single `sedimentdb` namespace.

api/ IS the package `sedimentdb`; engine/ is `sedimentdb.engine`; tools/ is `sedimentdb.tools`.
Subpackages are discovered so a new folder can never be silently left out of the wheel.
"""

from setuptools import find_packages, setup

ROOTS = {"sedimentdb": "api", "sedimentdb.engine": "engine", "sedimentdb.tools": "tools"}

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(where=folder)]

setup(package_dir=ROOTS, packages=packages)
