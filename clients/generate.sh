#!/usr/bin/env bash
# Regenerates both SDKs from ../openapi/openapi.json with the pinned
# generators (installed first by ./setup.sh, which does nothing when they are).
#   clients/generate.sh         rewrite the committed generated code in place
#   clients/generate.sh OUT     write OUT/typescript/src/generated and
#                               OUT/python/tenantry_client/generated instead
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:-$here}" && cd "${1:-$here}" && pwd)
"$here/setup.sh"
export PATH="$here/tools/node_modules/node/bin:$PATH"

ts_out="$out/typescript/src/generated"
mkdir -p "$(dirname "$ts_out")"
rm -rf "$ts_out"
(cd "$here/typescript" && TENANTRY_TS_OUT="$ts_out" "$here/tools/node_modules/.bin/openapi-ts" -f openapi-ts.config.mjs >/dev/null)

"$here/python/generate.sh" "$here/.venv/bin/python" "$out/python/tenantry_client/generated"
