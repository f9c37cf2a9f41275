#!/usr/bin/env bash
# Regenerates the low-level Tenantry client from ../../openapi/openapi.json.
#
# Usage: generate.sh PYTHON PKG_DIR
#   PYTHON   a Python interpreter of a venv that has requirements-dev.txt
#            installed (openapi-python-client and ruff, pinned)
#   PKG_DIR  the folder that receives the generated package, normally
#            clients/python/tenantry_client/generated; it is replaced whole
#
# The output depends only on the spec, the config file and the pinned tool
# versions: running it twice gives identical bytes.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 PYTHON PKG_DIR" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
spec="$here/../../openapi/openapi.json"
config="$here/openapi-python-client.yaml"

python_bin="$1"
if [[ "$python_bin" != */* ]]; then
  python_bin="$(command -v "$python_bin")" || { echo "error: $1 not found" >&2; exit 2; }
fi
python_bin="$(cd "$(dirname "$python_bin")" && pwd)/$(basename "$python_bin")"
[[ -x "$python_bin" ]] || { echo "error: $python_bin is not executable" >&2; exit 2; }

want_generator="0.29.1"
want_ruff="0.17.6"
version_of() {
  "$python_bin" -c 'import importlib.metadata as m, sys
try:
    print(m.version(sys.argv[1]))
except m.PackageNotFoundError:
    print("none")' "$1"
}
have_generator="$(version_of openapi-python-client)"
have_ruff="$(version_of ruff)"
if [[ "$have_generator" != "$want_generator" || "$have_ruff" != "$want_ruff" ]]; then
  echo "error: need openapi-python-client $want_generator and ruff $want_ruff in $python_bin," \
    "found $have_generator and $have_ruff (pip install -r $here/requirements-dev.txt)" >&2
  exit 2
fi

# Refuse to generate from a spec that is not valid OpenAPI 3.0.
"$python_bin" -I -m openapi_spec_validator --schema 3.0 "$spec" >/dev/null

pkg_dir="$2"
mkdir -p "$(dirname "$pkg_dir")"
pkg_dir="$(cd "$(dirname "$pkg_dir")" && pwd)/$(basename "$pkg_dir")"

# Refuse to replace a folder that does not look like a generated package.
if [[ -d "$pkg_dir" && -n "$(ls -A "$pkg_dir")" && ! -f "$pkg_dir/client.py" ]]; then
  echo "error: $pkg_dir exists and is not a generated client (no client.py); not replacing it" >&2
  exit 2
fi

# Work next to the destination so the final move is a rename on one file system.
work="$(mktemp -d "$(dirname "$pkg_dir")/.generate.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The post hooks in the config call `python`: make that the given interpreter.
mkdir "$work/bin"
printf '#!/usr/bin/env bash\nexec %q "$@"\n' "$python_bin" >"$work/bin/python"
chmod 755 "$work/bin/python"

# --fail-on-warning: a skipped post hook (ruff not found) is a warning, and
# unformatted output must never land.
(
  cd "$work"
  PATH="$work/bin:$PATH" "$python_bin" -m openapi_python_client generate \
    --path "$spec" \
    --config "$config" \
    --meta none \
    --output-path "$work/out" \
    --fail-on-warning
) >"$work/log" 2>&1 || { cat "$work/log" >&2; echo "error: openapi-python-client failed" >&2; exit 1; }

# Only what the generator wrote: no caches, stable permissions.
find "$work/out" \( -name __pycache__ -o -name .ruff_cache \) -prune -exec rm -rf {} +
find "$work/out" -type d -exec chmod 755 {} +
find "$work/out" -type f -exec chmod 644 {} +

if [[ -e "$pkg_dir" ]]; then
  mv "$pkg_dir" "$work/old"
fi
mv "$work/out" "$pkg_dir"
echo "generated $pkg_dir"
