"""Map the repo-root folders engine/, api/, tools/ into the single `sedimentdb` namespace.

api/ IS the package `sedimentdb`; engine/ is `sedimentdb.engine`; tools/ is `sedimentdb.tools`.
Subpackages are discovered so a new folder can never be silently left out of the wheel.

The start-up hook `sedimentdb-as-chromadb.pth` (the `SEDIMENTDB_AS_CHROMADB=1` opt-in, see
docs/DROP-IN.md) must land in site-packages itself, where `site` reads .pth files; setuptools has
no option for that, so a build step puts it there, for a wheel and for an editable install.
"""

from pathlib import Path

from setuptools import Command, find_packages, setup
from setuptools.command.build import build

ROOTS = {"sedimentdb": "api", "sedimentdb.engine": "engine", "sedimentdb.tools": "tools"}
STARTUP_HOOK = "sedimentdb-as-chromadb.pth"

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(where=folder)]


class build_startup_hook(Command):
    """Copy the .pth into the wheel's root: build_lib for a wheel, the unpacked wheel when editable."""

    description = "put the chromadb-alias start-up hook (.pth) at the root of site-packages"
    user_options: list = []
    editable_mode = False  # set by setuptools' editable_wheel

    def initialize_options(self) -> None:
        self.build_lib = None

    def finalize_options(self) -> None:
        self.set_undefined_options("build", ("build_lib", "build_lib"))

    def run(self) -> None:
        # In editable mode build_lib is thrown away; the install command's install_lib is the
        # directory that becomes the editable wheel.
        dest = self.get_finalized_command("install").install_lib if self.editable_mode else self.build_lib
        self.copy_file(str(Path(__file__).parent / STARTUP_HOOK), str(Path(dest) / STARTUP_HOOK))

    def get_outputs(self) -> list:
        return [] if self.editable_mode else [str(Path(self.build_lib) / STARTUP_HOOK)]


class build_with_startup_hook(build):
    """setuptools' build, plus the start-up hook."""

    sub_commands = build.sub_commands + [("build_startup_hook", None)]


setup(package_dir=ROOTS, packages=packages,
      cmdclass={"build": build_with_startup_hook, "build_startup_hook": build_startup_hook})
