-- What row-level security and the tenant setting add to the get-by-id query
-- alone (no key lookup): the setting and the query in one simple-protocol
-- message, as the application role, so the policy applies. Compare with
-- get_unscoped.sql (-M simple both; both first read a tenant and project
-- from bench_keys).
\set n random(1, :tenants)
SELECT tenant_id, project_id FROM bench_keys WHERE n = :n \gset
SET LOCAL app.tenant_id = ':tenant_id' \;
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = ':tenant_id'::uuid AND id = ':project_id'::uuid LIMIT 1;
