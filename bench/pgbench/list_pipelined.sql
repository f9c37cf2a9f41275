-- GET /v1/projects?limit=20, the endpoint's limit: what the server sends for a request
-- whose key is cached, done the fastest way the protocol allows. The tenant
-- setting is a parameter of set_config and the statement is prepared; both
-- are pipelined before one Sync (one implicit transaction, one round trip).
-- Run with -M prepared, -D t=TENANT -D p=PROJECT (bench/run.sh passes the
-- first tenant of the keys file).
\startpipeline
SELECT set_config('app.tenant_id', :t, true);
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = :t::uuid ORDER BY created_at ASC, id ASC LIMIT 21;
\endpipeline
