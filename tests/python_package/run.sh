#!/usr/bin/env bash
# The Python package as its users get it. In a fresh virtual environment
# that has only pip:
# 1. `pip install ./bindings/python` (the build backend, setuptools-rust,
#    runs cargo and puts libmqlite inside the package), paho-mqtt and
#    pytest; the installed wheel is checked: tagged for any Python 3 on
#    this platform, with the library, py.typed and the pytest11 entry
#    point. (`pip wheel` makes the same wheel through the same hook.)
# 2. With no MQLITE_LIB and from outside the repository: asyncio_app.py
#    (the broker and a paho client on one event loop) and test_fixture.py
#    (the package's pytest fixtures, paho as the client); then mypy
#    --strict on typed_use.py, which must pass, and on the same code with a
#    wrong argument type, which must fail (the hints reach users).
# 3. The sdist, built from bindings/python (`python -m build --sdist`),
#    checked to hold the crate's sources and no symlink or library,
#    installed in place of the first install, and both programs run again.
#    pip runs cargo on the sdist's own copy of the crate; in the shared
#    target directory cargo finds those files (same paths in the crate,
#    same times) built already, so this checks that the sdist holds every
#    file the build reads (a missing or changed one makes cargo compile it,
#    and a missing one fails), not a compile from scratch, which
#    `CARGO_TARGET_DIR=$(mktemp -d) python -m build bindings/python` does.
# Needs python3 (with venv), cargo and PyPI. The cargo profile is
# SETUPTOOLS_RUST_CARGO_PROFILE's (release when unset, as for users), the
# features MQLITE_CARGO_FEATURES's (bindings/python/setup.py), and every
# build goes to CARGO_TARGET_DIR (default: the repository's target/), the
# sdist's too, so that dependencies built before are not built again:
# scripts/test.sh gives the `ci` profile and the crate's default features,
# which its earlier stages built.
# Ends with `python-package: N passed, N failed`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/tests/python_package"
work="$root/target/python-package"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
unset MQLITE_LIB
passed=0
failed=0
step() { echo "-- $* [${SECONDS} s]"; }
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

step "pip install ./bindings/python paho-mqtt pytest"
"${pip[@]}" install "$root/bindings/python" paho-mqtt pytest
installed_ok() {
    "$py" - <<'EOF'
import importlib.metadata as metadata
dist = metadata.distribution("mqlite")
files = {str(f) for f in dist.files}
libraries = [f for f in files if f.startswith("mqlite/_libmqlite.")]
assert libraries and "mqlite/py.typed" in files, sorted(files)
tags = [line for line in dist.read_text("WHEEL").splitlines() if line.startswith("Tag:")]
assert len(tags) == 1 and tags[0].startswith("Tag: py3-none-") and not tags[0].endswith(
    "-any"), tags
plugins = [e for e in dist.entry_points if e.group == "pytest11"]
assert [(e.name, e.value) for e in plugins] == [("mqlite", "mqlite.pytest_plugin")], plugins
print(f"installed: {tags[0]}, {libraries[0]}")
EOF
}
check "the wheel: tag, library, py.typed, pytest11 entry point" installed_ok

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

step "mypy --strict against the installed package (py.typed)"
"${pip[@]}" install mypy
typed_ok() {
    cd "$work" && "$py" -m mypy --strict --no-incremental "$here/typed_use.py"
}
check "mypy --strict passes typed_use.py" typed_ok
wrong_type_refused() {
    # The same code with an int client id: the package's hints must refuse it.
    sed 's/broker.kick("device-1")/broker.kick(1)/' "$here/typed_use.py" >"$work/wrong.py"
    local out
    if out="$(cd "$work" && "$py" -m mypy --strict --no-incremental wrong.py)"; then
        echo "mypy accepted kick(1)" >&2
        return 1
    fi
    grep -q 'Argument 1 to "kick" of "Broker" has incompatible type "int"' <<<"$out" ||
        { echo "$out" >&2; return 1; }
}
check "mypy --strict refuses a wrong argument type" wrong_type_refused

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

echo "python-package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
