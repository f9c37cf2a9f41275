-- The get-by-id query alone, without the tenant setting, as the owner (no
-- policy applies): the baseline for get_scoped.sql (-M simple both).
\set n random(1, :tenants)
SELECT tenant_id, project_id FROM bench_keys WHERE n = :n \gset
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = ':tenant_id'::uuid AND id = ':project_id'::uuid LIMIT 1;
