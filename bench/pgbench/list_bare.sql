-- The list query alone (no key lookup, no transaction, no tenant setting; run as the owner, so no policy applies).
\set n random(1, :tenants)
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = (SELECT tenant_id FROM bench_keys WHERE n = :n) ORDER BY created_at ASC, id ASC LIMIT 21;
