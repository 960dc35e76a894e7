"""Builds the mqlite package: its Python sources, and libmqlite (the cdylib
of the Rust crate) compiled by cargo through setuptools-rust and shipped
inside the package, where ``mqlite._native`` loads it with ctypes.

Where the crate is: in the repository, two levels up (this directory is
bindings/python); in an sdist, in ``rust/`` beside this file, copied there
by the sdist command below (an sdist cannot reach outside its own tree).

The library does not use Python's C API, so the wheel is tagged
``py3-none-<platform>``: one wheel serves every Python 3 on that platform.
"""

import os
import re
import shutil

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.sdist import sdist
from setuptools.errors import SetupError
from setuptools_rust import Binding, RustExtension

HERE = os.path.dirname(os.path.abspath(__file__))
SDIST_CRATE = "rust"
REPO_CRATE = os.path.join("..", "..")

# What the crate needs to build its library, relative to its root: the
# manifest and lock file, the build script and its cbindgen settings, the
# sources, and the README that src/lib.rs includes as its documentation.
CRATE_FILES = ("Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml", "README.md")
CRATE_DIRS = ("src",)
# Cargo reads its configuration from the directory it runs in (here, the
# package's), not from the crate's: the repository's .cargo/config.toml
# (SQLite's compile-time options) goes to the sdist's root.
CARGO_CONFIG = os.path.join(".cargo", "config.toml")

# The C API and everything the bindings reach through it (SQLite
# persistence, TLS and WebSocket listeners); not the `cli` feature, which
# only the standalone binary uses. MQLITE_CARGO_FEATURES replaces the list
# (space- or comma-separated): fewer for a smaller library (without "tls"
# and "websocket", say), or the crate's "default" to share the
# dependencies' builds with a plain `cargo build` of the repository (as
# scripts/test.sh does; the library's code is the same).
FEATURES = ["ffi", "sqlite", "tls", "websocket"]


def features() -> list:
    """The cargo features to build with."""
    given = os.environ.get("MQLITE_CARGO_FEATURES")
    if given is None:
        return FEATURES
    chosen = [name for name in re.split(r"[\s,]+", given) if name]
    if "ffi" not in chosen and "default" not in chosen:
        raise SetupError(f"MQLITE_CARGO_FEATURES={given!r}: the bindings need the C API, "
                         "the `ffi` feature (or `default`)")
    return chosen


def crate_dir() -> str:
    """The crate's directory, relative to this file's."""
    for candidate in (SDIST_CRATE, REPO_CRATE):
        if os.path.isfile(os.path.join(HERE, candidate, "Cargo.toml")):
            return candidate
    raise SetupError(
        "cannot find the mqlite crate: expected rust/Cargo.toml (an sdist) or "
        "../../Cargo.toml (bindings/python in the repository)"
    )


def sdist_manifest(text: str) -> str:
    """The repository's Cargo.toml made the sdist's: its workspace is the
    crate alone (the benchmark member is not shipped)."""
    changed, count = re.subn(r"(?m)^members = \[[^\]]*\]$", 'members = ["."]', text)
    if count != 1:
        raise SetupError("Cargo.toml: expected one `members = [...]` line in [workspace]; "
                         "update setup.py's sdist_manifest to its new form")
    return changed


class sdist_with_crate(sdist):
    """The sdist, with the crate's sources copied into ``rust/``."""

    def make_release_tree(self, base_dir: str, files: list) -> None:
        super().make_release_tree(base_dir, files)
        source = os.path.join(HERE, crate_dir())
        target = os.path.join(base_dir, SDIST_CRATE)
        os.makedirs(target, exist_ok=True)
        # Copies keep their files' times (copy2, copytree), and the edited
        # manifest its original's: cargo then finds a build it made of the
        # same sources (into a shared CARGO_TARGET_DIR) still fresh.
        for name in CRATE_FILES:
            original = os.path.join(source, name)
            if name == "Cargo.toml":
                with open(original, encoding="utf-8") as manifest:
                    text = sdist_manifest(manifest.read())
                with open(os.path.join(target, name), "w", encoding="utf-8") as manifest:
                    manifest.write(text)
                shutil.copystat(original, os.path.join(target, name))
            else:
                shutil.copy2(original, os.path.join(target, name))
        for name in CRATE_DIRS:
            shutil.copytree(os.path.join(source, name), os.path.join(target, name),
                            ignore=shutil.ignore_patterns("__pycache__", "*.orig", "*.rej"),
                            dirs_exist_ok=True)
        # The repository's is beside the crate; an sdist's (an sdist made
        # from an sdist) beside this file.
        for config in (os.path.join(source, CARGO_CONFIG), os.path.join(HERE, CARGO_CONFIG)):
            if os.path.isfile(config):
                os.makedirs(os.path.join(base_dir, ".cargo"), exist_ok=True)
                shutil.copy2(config, os.path.join(base_dir, CARGO_CONFIG))
                break


class bdist_wheel_any_python(bdist_wheel):
    """A platform wheel for any Python 3: the library is loaded by ctypes
    and uses no Python ABI."""

    def get_tag(self) -> tuple:
        _python, _abi, platform = super().get_tag()
        return "py3", "none", platform


setup(
    rust_extensions=[
        RustExtension(
            # mqlite/_libmqlite<suffix>; _native finds it by that stem.
            "mqlite._libmqlite",
            path=os.path.join(HERE, crate_dir(), "Cargo.toml"),
            binding=Binding.NoBinding,
            args=["--no-default-features"],
            features=features(),
        )
    ],
    cmdclass={"sdist": sdist_with_crate, "bdist_wheel": bdist_wheel_any_python},
    zip_safe=False,
)
