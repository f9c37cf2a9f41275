-- GET /v1/projects/{id} without row-level security or the tenant setting:
-- key lookup and query only, as the owner (policies do not apply); run with
-- -M simple like get.sql.
\set n random(1, :tenants)
SELECT k.tenant_id, k.id, k.scopes, k.expires_at, k.revoked_at, b.project_id FROM tenantry_api_key_by_hash((SELECT key_hash FROM bench_keys WHERE n = :n)) k, bench_keys b WHERE b.n = :n \gset
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = ':tenant_id'::uuid AND id = ':project_id'::uuid LIMIT 1;
