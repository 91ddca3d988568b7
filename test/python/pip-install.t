#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Python's latch package installed two ways, both tried in a temp dir:
#   - make install's meson install (--destdir): the package lands where Debian's
#     python3 looks for local packages and imports against the installed liblatch;
#   - pip install ./python in a virtualenv, built by meson-python against that
#     installed liblatch (found by pkg-config), offline (Debian's python3-mesonpy,
#     --no-build-isolation); the wheel's extension needs liblatch.so.0, and the
#     argument tests (test_args.py) pass against it.
# Usage: pip-install.t BUILD_ROOT SOURCE_ROOT PYTHON
set -u
build=${1:?usage: pip-install.t BUILD_ROOT SOURCE_ROOT PYTHON}
src=${2:?}
py=${3:?}
source "$src/test/lab/tap.sh"

tmp=$(mktemp -d /tmp/latch-pip.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
version=$(meson introspect --projectinfo "$build" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["version"])')
prefix=$(meson introspect --buildoptions "$build" |
	"$py" -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')

if ! meson install -C "$build" --no-rebuild --destdir "$root" >"$tmp/install.log" 2>&1; then
	tap_fail "meson install" "$(tail -n 5 "$tmp/install.log")"
	tap_done
	exit
fi
ext=$(find "$root" -name '_latch.*.so' | head -1)
tap_ok "meson install installs the extension" test -n "$ext"
site=${ext%/latch/*}
site=${site#"$root"}
tap_diag "installed into $site (prefix $prefix)"
if [ "$prefix" = /usr/local ]; then
	tap_ok "for prefix /usr/local, where Debian's python3 looks for local packages" \
		"$py" -c "import sys; sys.exit('$site' not in sys.path)"
fi
libdir=$(dirname "$(find "$root" -name 'liblatch.so.0' | head -1)")
out=$(cd "$tmp" && LD_LIBRARY_PATH=$libdir PYTHONPATH=$root$site "$py" -c \
	'import latch; print(latch.__version__, latch.__file__)' 2>&1)
tap_diag "import: $out"
tap_is "${out%% *}" "$version" "the installed package imports and says liblatch's version"
tap_ok "from where it was installed" grep -q "^$version $root$site/latch/__init__.py" <<<"$out"

# pip install ./python against the installed liblatch
mkdir -p "$tmp/pc"
sed "s|^prefix=.*|prefix=$root$prefix|" "$(find "$root" -name latch.pc | head -1)" >"$tmp/pc/latch.pc"
cp -r "$src/python" "$tmp/python"
rm -rf "$tmp/python/.mesonpy-"* "$tmp/python/build"
"$py" -m venv --system-site-packages "$tmp/venv"
if PKG_CONFIG_PATH=$tmp/pc "$tmp/venv/bin/pip" install --no-build-isolation --no-index \
	"$tmp/python" >"$tmp/pip.log" 2>&1; then
	tap_pass "pip install ./python builds and installs it in a virtualenv"
else
	tap_fail "pip install ./python builds and installs it in a virtualenv" \
		"$(tail -n 15 "$tmp/pip.log")"
fi
vext=$(find "$tmp/venv" -name '_latch.*.so' | head -1)
tap_ok "the wheel's extension needs liblatch.so.0 (its soname)" \
	sh -c "readelf -d '$vext' | grep -q 'NEEDED.*\[liblatch.so.0\]'"
out=$(cd "$tmp" && LD_LIBRARY_PATH=$libdir "$tmp/venv/bin/python" -c \
	'import latch; print(latch.__version__, latch.__file__)' 2>&1)
tap_diag "venv import: $out"
tap_ok "the virtualenv imports its own copy" grep -q "^$version $tmp/venv/.*/site-packages/latch/__init__.py" <<<"$out"
if (cd "$tmp" && LD_LIBRARY_PATH=$libdir "$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider \
	"$src/test/python/test_args.py" >"$tmp/pytest.log" 2>&1); then
	tap_pass "test_args.py passes against the pip-installed package ($(tail -n 1 "$tmp/pytest.log"))"
else
	tap_fail "test_args.py passes against the pip-installed package" "$(tail -n 15 "$tmp/pytest.log")"
fi
tap_done
