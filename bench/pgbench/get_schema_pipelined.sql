-- GET /v1/projects/{id} for a tenant in a schema of its own, as the server
-- sends it: the tenant setting and the search path as parameters of
-- set_config, then the same prepared statement whatever the schema, pipelined
-- before one Sync. Run with -M prepared on the schema data set, as the
-- application role: every transaction switches search path, and PostgreSQL
-- re-plans the statement each time. (The same transaction given to pgbench as
-- one script per tenant, `-f` each, is prepared once per schema and keeps its
-- plan; see bench/README.md.)
\set n random(1, :tenants)
SELECT tenant_id AS t, project_id AS p, 't_' || replace(tenant_id::text, '-', '') || ', public' AS sp FROM bench_keys WHERE n = :n \gset
\startpipeline
SELECT set_config('app.tenant_id', :t, true), set_config('search_path', :sp, true);
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = :t::uuid AND id = :p::uuid LIMIT 1;
\endpipeline
