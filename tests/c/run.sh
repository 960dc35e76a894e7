#!/usr/bin/env bash
# The C API's tests: the header as C99 and C++, the C tests under
# AddressSanitizer + UndefinedBehaviorSanitizer (leak checking on) and
# under valgrind, the examples, and an install + pkg-config build.
#
#   bash tests/c/run.sh            (builds the release library first)
#   MQLITE_SKIP_BUILD=1 bash tests/c/run.sh
#
# The library is taken from $CARGO_TARGET_DIR/release (target/release when
# unset), or the directory of the cargo profile MQLITE_PROFILE (the tests
# use `ci`). Everything is built under target/c-tests. Ends with "N passed,
# N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
out="$root/target/c-tests"
mkdir -p "$out"

profile="${MQLITE_PROFILE:-release}"
export MQLITE_PROFILE="$profile"
if [ -z "${MQLITE_SKIP_BUILD:-}" ]; then
    echo "== cargo build --profile $profile --lib"
    cargo build --profile "$profile" --lib -q || exit 1
fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
lib="$target_dir/$profile/libmqlite.a"
[ -f "$lib" ] || { echo "run.sh: $lib missing"; exit 1; }

CC="${CC:-gcc}"
CXX="${CXX:-g++}"
WARN=(-Wall -Wextra -Wpedantic -Werror)
INC=(-I"$root/include" -I"$root/examples/c")
SYSLIBS=(-lpthread -ldl -lm)
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

passed=0
failed=0
failures=()
step() { # step NAME COMMAND...
    local name="$1"
    shift
    if "$@" >"$out/$name.log" 2>&1; then
        passed=$((passed + 1))
        echo "ok    $name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL  $name (log: target/c-tests/$name.log)"
        tail -n 20 "$out/$name.log" | sed 's/^/      /'
        return 1
    fi
}

# The header alone, strictly, as C99 and C++ (both compilers, both modes).
printf '#include "mqlite.h"\nint main(void) { return mqlite_version() == 0; }\n' >"$out/header.c"
cp "$out/header.c" "$out/header.cpp"
step header-c99 "$CC" -std=c99 "${WARN[@]}" -Wstrict-prototypes -I"$root/include" -c "$out/header.c" -o "$out/header-c.o"
step header-c11 "$CC" -std=c11 "${WARN[@]}" -I"$root/include" -c "$out/header.c" -o "$out/header-c11.o"
step header-cxx11 "$CXX" -std=c++11 "${WARN[@]}" -I"$root/include" -c "$out/header.cpp" -o "$out/header-cxx.o"
step header-cxx17 "$CXX" -std=c++17 "${WARN[@]}" -I"$root/include" -c "$out/header.cpp" -o "$out/header-cxx17.o"

# The ABI only grows (docs/C_API.md): the frozen 0.1 header is unchanged;
# its constants, typedefs and prototypes are repeated compatibly by the
# current header; its structs have the same layout in both.
abi="$root/tests/c/abi"
frozen="$abi/mqlite-0.1"
step abi-frozen-header-unchanged bash -c "cd '$frozen' && sha256sum -c --quiet SHA256SUMS"
awk -f "$abi/declarations.awk" "$frozen/mqlite.h" >"$out/mqlite-0.1-declarations.h"
printf '#include "mqlite.h"\n#include "mqlite-0.1-declarations.h"\nint main(void) { return 0; }\n' \
    >"$out/abi-declarations.c"
step abi-declarations "$CC" -std=c11 "${WARN[@]}" -I"$root/include" -I"$out" \
    -c "$out/abi-declarations.c" -o "$out/abi-declarations.o"
step build-abi-layout-0.1 "$CC" -std=c11 "${WARN[@]}" -I"$frozen" -o "$out/layout-0.1" "$abi/layout.c"
step build-abi-layout-current "$CC" -std=c11 "${WARN[@]}" -I"$root/include" -o "$out/layout-current" \
    "$abi/layout.c"
step abi-layout bash -c "diff <('$out/layout-0.1') <('$out/layout-current')"

# Each test: name, source, include directories. test_abi_0_1 is a 0.1
# program: built against the frozen header only, linked with this library.
tests=(test_null test_callbacks test_threads test_stop test_lifecycle test_growth test_mqtt5 test_listeners test_bridges
    test_handle_clone test_management test_mqttsn test_abi_0_1)
source_of() { case "$1" in test_abi_0_1) echo "$abi/$1.c" ;; *) echo "$root/tests/c/$1.c" ;; esac; }
includes_of() {
    case "$1" in
    test_abi_0_1) echo "-I$frozen -I$root/examples/c" ;;
    *) echo "${INC[*]}" ;;
    esac
}

# Under ASan + UBSan.
for t in "${tests[@]}"; do
    # shellcheck disable=SC2046
    step "build-asan-$t" "$CC" -std=c99 "${WARN[@]}" -g -O1 "${SAN[@]}" $(includes_of "$t") \
        -o "$out/$t-asan" "$(source_of "$t")" "$lib" "${SYSLIBS[@]}"
    [ -x "$out/$t-asan" ] && step "asan-$t" timeout 300 "$out/$t-asan"
done

# Under valgrind (memcheck, leaks), without sanitizers. valgrind.supp
# holds memcheck's false reports on ring's AES-GCM assembly (TLS).
if command -v valgrind >/dev/null 2>&1; then
    for t in "${tests[@]}"; do
        # shellcheck disable=SC2046
        step "build-$t" "$CC" -std=c99 "${WARN[@]}" -g -O1 $(includes_of "$t") \
            -o "$out/$t" "$(source_of "$t")" "$lib" "${SYSLIBS[@]}"
        [ -x "$out/$t" ] && step "valgrind-$t" timeout 600 valgrind -q --error-exitcode=1 \
            --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --suppressions="$root/tests/c/valgrind.supp" "$out/$t"
    done
else
    echo "note: valgrind not installed; skipping the valgrind runs"
fi

# The examples, built by their Makefile, each checking its own behaviour.
step build-examples make -s -C "$root/examples/c" OUT="$out" ROOT="$root" LIBA="$lib"
for example in hello hostloop gateway listeners; do
    [ -x "$out/$example" ] && step "example-$example" timeout 120 "$out/$example"
done

# Install into a temporary prefix (scripts/install.sh takes the libraries
# from the same CARGO_TARGET_DIR and MQLITE_PROFILE); build against it with
# pkg-config, both shared (run with LD_LIBRARY_PATH) and static, and with
# CMake's find_package below.
prefix="$out/prefix"
rm -rf "$prefix"
step install bash "$root/scripts/install.sh" --no-build "$prefix"
if command -v pkg-config >/dev/null 2>&1 && [ -f "$prefix/lib/pkgconfig/mqlite.pc" ]; then
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    step pkgconfig-version test "$(pkg-config --modversion mqlite)" = \
        "$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)"
    # shellcheck disable=SC2046
    step build-pkgconfig-shared "$CC" -std=c99 "${WARN[@]}" -I"$root/examples/c" \
        -o "$out/gateway-shared" "$root/examples/c/gateway.c" $(pkg-config --cflags --libs mqlite) -lpthread
    [ -x "$out/gateway-shared" ] && step pkgconfig-shared-gateway env LD_LIBRARY_PATH="$prefix/lib" \
        timeout 120 "$out/gateway-shared"
    # shellcheck disable=SC2046
    step build-pkgconfig-static "$CXX" -std=c++11 "${WARN[@]}" -o "$out/hello-static" \
        "$root/examples/c/hello.cpp" $(pkg-config --cflags mqlite) "$prefix/lib/libmqlite.a" \
        $(pkg-config --static --libs-only-l mqlite | sed 's/-lmqlite//')
    [ -x "$out/hello-static" ] && step pkgconfig-static-hello timeout 120 "$out/hello-static"
fi

# The CMake snippet of docs/C_API.md, when cmake is installed.
if command -v cmake >/dev/null 2>&1; then
    rm -rf "$out/cmake"
    step cmake-configure cmake -S "$root/tests/c/cmake" -B "$out/cmake" -DMQLITE_ROOT="$root" \
        -DMQLITE_LIB="$lib"
    step cmake-build cmake --build "$out/cmake"
    [ -x "$out/cmake/gateway" ] && step cmake-gateway timeout 120 "$out/cmake/gateway"
fi

# The installed CMake package: its version file's answers, then a project
# using find_package(mqlite CONFIG) and both imported targets, built
# against a copy of the prefix elsewhere (the package finds its files from
# its own place), run without LD_LIBRARY_PATH (CMake's run path), its
# output shown.
package="$prefix/lib/cmake/mqlite"
if command -v cmake >/dev/null 2>&1 && [ -f "$package/mqliteConfig.cmake" ]; then
    moved="$out/prefix-moved"
    rm -rf "$moved" "$out/cmake-package"
    cp -a "$prefix" "$moved"
    step cmake-package-version cmake -DVERSION_FILE="$package/mqliteConfigVersion.cmake" \
        -DVERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)" \
        -P "$root/tests/c/cmake-package/version-check.cmake"
    step cmake-package-configure cmake -S "$root/tests/c/cmake-package" -B "$out/cmake-package" \
        -DCMAKE_PREFIX_PATH="$moved"
    step cmake-package-build cmake --build "$out/cmake-package"
    for variant in shared static; do
        exe="$out/cmake-package/hello_$variant"
        [ -x "$exe" ] || continue
        step "cmake-package-$variant" env -u LD_LIBRARY_PATH timeout 120 "$exe" &&
            sed 's/^/      /' "$out/cmake-package-$variant.log"
    done
    [ -x "$out/cmake-package/hello_shared" ] && step cmake-package-links-shared bash -c \
        "ldd '$out/cmake-package/hello_shared' | grep -q '$moved/lib/libmqlite.so'"
fi
if ! command -v cmake >/dev/null 2>&1; then
    echo "note: cmake not installed; skipping the CMake builds"
fi

echo
if [ "$failed" -gt 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
