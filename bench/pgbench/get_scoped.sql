-- What row-level security and the tenant setting add to the get-by-id query
-- alone (no key lookup): the setting and the query in one simple-protocol
-- message, as the application role, so the policy applies. Compare with
-- get_unscoped.sql (-M simple both).
\set n random(1, :tenants)
SELECT set_config('app.tenant_id', (SELECT tenant_id::text FROM bench_keys WHERE n = :n), true) \;
SELECT p.tenant_id, p.id, p.name, p.description, p.created_at, p.updated_at FROM projects p, bench_keys b WHERE b.n = :n AND p.tenant_id = b.tenant_id AND p.id = b.project_id LIMIT 1;
