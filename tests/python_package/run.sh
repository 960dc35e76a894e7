#!/usr/bin/env bash
# The Python package as its users get it. In a fresh virtual environment
# that has only pip:
# 1. `pip wheel ./bindings/python`: the build backend (setuptools-rust)
#    runs cargo and ships libmqlite inside the wheel, tagged for any
#    Python 3 on this platform, with py.typed;
# 2. `pip install ./bindings/python`, paho-mqtt and pytest; then, with no
#    MQLITE_LIB and from outside the repository, asyncio_app.py (the
#    broker and a paho client on one event loop) and test_fixture.py (the
#    package's pytest fixtures, paho as the client);
# 3. the sdist: built from bindings/python (`python -m build --sdist`),
#    checked to hold the crate's sources and no symlink, installed in place
#    of the first install (pip builds it from the sdist's own copy of the
#    crate), and both programs run again.
# Needs python3 (with venv), cargo and PyPI. The cargo profile is
# SETUPTOOLS_RUST_CARGO_PROFILE's (release when unset, as for users;
# scripts/test.sh gives `ci`, whose dependencies it has built already),
# and every build goes to CARGO_TARGET_DIR (default: the repository's
# target/), the sdist's too, so that the dependencies are built once.
# Ends with `python package: N passed, N failed`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tests/python_package"
work="$root/target/python-package"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
unset MQLITE_LIB
passed=0
failed=0
step() { echo "-- $*"; }
check() {
    # check NAME COMMAND...: runs it, counts it, keeps going.
    local name="$1"
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $name" >&2
    fi
}

rm -rf "$work"
mkdir -p "$work"
step "fresh virtual environment (pip only)"
python3 -m venv "$work/venv"
py="$work/venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check -q)

step "pip wheel ./bindings/python"
"${pip[@]}" wheel --no-deps -w "$work/wheels" "$root/bindings/python"
wheel_ok() {
    "$py" - "$work/wheels" <<'EOF'
import pathlib, sys, zipfile
wheels = list(pathlib.Path(sys.argv[1]).glob("mqlite-*.whl"))
assert len(wheels) == 1, wheels
name = wheels[0].name
assert "-py3-none-" in name and not name.endswith("-any.whl"), name
names = zipfile.ZipFile(wheels[0]).namelist()
libraries = [n for n in names if n.startswith("mqlite/_libmqlite.")]
assert libraries and "mqlite/py.typed" in names, names
entry = [n for n in names if n.endswith("entry_points.txt")]
text = zipfile.ZipFile(wheels[0]).read(entry[0]).decode()
assert "[pytest11]" in text and "mqlite.pytest_plugin" in text, text
print(f"wheel: {name}, {libraries[0]}")
EOF
}
check "the wheel holds the library, py.typed and the pytest11 entry point" wheel_ok

step "pip install ./bindings/python paho-mqtt pytest"
"${pip[@]}" install "$root/bindings/python" paho-mqtt pytest

# From the work directory: `import mqlite` must find the installed
# package, not bindings/python.
run_programs() {
    local what="$1"
    check "$what: asyncio_app.py" bash -c 'cd "$1" && "$2" "$3/asyncio_app.py"' _ \
        "$work" "$py" "$here"
    check "$what: pytest test_fixture.py" bash -c \
        'cd "$1" && "$2" -m pytest -q -p no:cacheprovider "$3/test_fixture.py"' _ \
        "$work" "$py" "$here"
}
run_programs "installed from the tree"

step "sdist (python -m build --sdist), then pip install of it"
"${pip[@]}" install build
"$py" -m build --sdist --outdir "$work/dist" "$root/bindings/python" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; exit 1; }
sdist_ok() {
    "$py" - "$work/dist" <<'EOF'
import pathlib, sys, tarfile
sdists = list(pathlib.Path(sys.argv[1]).glob("mqlite-*.tar.gz"))
assert len(sdists) == 1, sdists
with tarfile.open(sdists[0]) as tar:
    members = tar.getmembers()
links = [m.name for m in members if m.issym() or m.islnk()]
assert not links, links
names = {m.name.split("/", 1)[1] for m in members if "/" in m.name}
for needed in ("setup.py", "pyproject.toml", "mqlite/__init__.py", "mqlite/py.typed",
               "rust/Cargo.toml", "rust/Cargo.lock", "rust/build.rs", "rust/cbindgen.toml",
               "rust/README.md", "rust/src/lib.rs", "rust/src/ffi/mod.rs", ".cargo/config.toml"):
    assert needed in names, needed
assert not [n for n in names if "_libmqlite" in n or n.endswith(".so")], names
print(f"sdist: {sdists[0].name}, {len(names)} files")
EOF
}
check "the sdist holds the crate and no symlink or library" sdist_ok
"${pip[@]}" install --force-reinstall --no-deps "$work"/dist/mqlite-*.tar.gz
run_programs "installed from the sdist"

echo "python package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
