#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every C file tracked by git is formatted as .clang-format says.
set -euo pipefail
cd "${1:-.}"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include test examples bench -name '*.[ch]')
[ -n "$files" ] || exit 0
echo "$files" | xargs clang-format --dry-run --Werror
