#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Banned functions and comment style (shared/STYLE.md rule 10), SPDX lines,
# then clang-format in check mode over every tracked C file.
set -uo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null)
[ -n "$files" ] || files=$(find . -path ./build -prune -o \( -name '*.c' -o -name '*.h' \) -print)
rc=0
banned='\b(system|popen|atoi|atol|strtok|strcpy|strcat|sprintf|vsprintf|gets|execvp|posix_spawnp)[[:space:]]*\('
if grep -nE "$banned" $files; then
	echo "lint: banned function (see STYLE.md rule 10)" >&2
	rc=1
fi
# '//' comments: a '//' outside string literals and not part of a URL (scheme://).
if grep -nE '^[^"]*(^|[^:])//' $files | grep -vE '"[^"]*//[^"]*"'; then
	echo "lint: use /* */ comments" >&2
	rc=1
fi
for f in $files; do
	head -n 2 "$f" | grep -q 'SPDX-License-Identifier' || { echo "lint: $f: missing SPDX line" >&2; rc=1; }
done
# The dashboard shows text an attacker wrote (journal lines, model replies):
# its DOM is built from text nodes only, and the page has no inline script,
# style or handler (the API's Content-Security-Policy would block them).
if grep -nHE '\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval|Function|setAttribute)\b|createContextualFragment|DOMParser' \
	api/dashboard/*.js | grep -vE '^[^:]+:[0-9]+:[[:space:]]*/?\*'; then
	echo "lint: the dashboard builds its DOM with createElement and text nodes only" >&2
	rc=1
fi
if grep -niE '<script[^>]*>[^<]|<style|[[:space:]](on[a-z]+|style)=|javascript:' api/dashboard/*.html; then
	echo "lint: no inline script, style or event handler in the dashboard's HTML" >&2
	rc=1
fi
if ! clang-format --dry-run -Werror $files; then
	echo "lint: clang-format differs; run 'make format'" >&2
	rc=1
fi
[ $rc -eq 0 ] && echo "lint: OK"
exit $rc
