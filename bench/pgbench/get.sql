-- GET /v1/projects/{id}: the statements the server sends (see statements-get.log).
-- After the key lookup, the tenant setting and the query travel as one
-- simple-protocol message (`\;`), an implicit transaction, as the server
-- sends them; run with -M simple.
\set n random(1, :tenants)
SELECT k.tenant_id, k.id, k.scopes, k.expires_at, k.revoked_at, b.project_id FROM tenantry_api_key_by_hash((SELECT key_hash FROM bench_keys WHERE n = :n)) k, bench_keys b WHERE b.n = :n \gset
SET LOCAL app.tenant_id = ':tenant_id' \;
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = ':tenant_id'::uuid AND id = ':project_id'::uuid LIMIT 1;
