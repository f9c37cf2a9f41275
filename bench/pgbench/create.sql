-- POST /v1/projects: the statements the server sends (see statements-create.log).
\set n random(1, :tenants)
SELECT tenant_id, id, scopes, expires_at, revoked_at FROM tenantry_api_key_by_hash((SELECT key_hash FROM bench_keys WHERE n = :n)) \gset
BEGIN;
SELECT set_config('app.tenant_id', :tenant_id, true);
INSERT INTO projects (tenant_id, id, name, description, created_at, updated_at) VALUES (:tenant_id, gen_random_uuid(), 'pgbench', NULL, now(), now()) RETURNING tenant_id, id, name, description, created_at, updated_at;
COMMIT;
