#!/usr/bin/env bash
# Installs what the SDKs need, from lockfiles and pinned requirements:
#   tools/        Node 22, @hey-api/openapi-ts, Redocly CLI, TypeScript (npm ci)
#   typescript/   the TypeScript package's dev dependencies (npm ci)
#   .venv/        openapi-python-client, ruff, mypy, pytest, the Python package
# Idempotent: each step reruns only when its lockfile changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

npm_ci() {
  local dir=$1
  local stamp="$dir/node_modules/.tenantry-lock"
  if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
    return
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
}

npm_ci "$here/tools"
npm_ci "$here/typescript"

venv="$here/.venv"
stamp="$venv/.tenantry-requirements"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! { [ -f "$stamp" ] && cmp -s "$here/python/requirements-dev.txt" "$stamp"; }; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/python/requirements-dev.txt"
  cp "$here/python/requirements-dev.txt" "$stamp"
fi
# The package itself, as a user installs it (cheap: no dependencies to fetch).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$here/python"
