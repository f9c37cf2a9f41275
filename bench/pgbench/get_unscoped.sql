-- The get-by-id query alone, without the tenant setting, as the owner (no
-- policy applies): the baseline for get_scoped.sql (-M simple both).
\set n random(1, :tenants)
SELECT p.tenant_id, p.id, p.name, p.description, p.created_at, p.updated_at FROM projects p, bench_keys b WHERE b.n = :n AND p.tenant_id = b.tenant_id AND p.id = b.project_id LIMIT 1;
