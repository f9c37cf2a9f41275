-- GET /v1/projects?limit=20: the statements the server sends (see statements-list.log).
\set n random(1, :tenants)
SELECT tenant_id, id, scopes, expires_at, revoked_at FROM tenantry_api_key_by_hash((SELECT key_hash FROM bench_keys WHERE n = :n)) \gset
BEGIN;
SELECT set_config('app.tenant_id', :tenant_id, true);
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = :tenant_id ORDER BY created_at ASC, id ASC LIMIT 21;
COMMIT;
