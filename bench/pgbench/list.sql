-- GET /v1/projects?limit=20: the statements the server sends (see statements-list.log).
-- After the key lookup, the tenant setting and the query travel as one
-- simple-protocol message (`\;`), an implicit transaction, as the server
-- sends them; run with -M simple.
\set n random(1, :tenants)
SELECT tenant_id, id, scopes, expires_at, revoked_at FROM tenantry_api_key_by_hash((SELECT key_hash FROM bench_keys WHERE n = :n)) \gset
SET LOCAL app.tenant_id = ':tenant_id' \;
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = ':tenant_id'::uuid ORDER BY created_at ASC, id ASC LIMIT 21;
