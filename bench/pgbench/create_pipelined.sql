-- POST /v1/projects, the endpoint's limit: what the server sends for a request
-- whose key is cached, done the fastest way the protocol allows. The tenant
-- setting is a parameter of set_config and the statement is prepared; both
-- are pipelined before one Sync (one implicit transaction, one round trip).
-- Run with -M prepared, -D t=TENANT -D p=PROJECT (bench/run.sh passes the
-- first tenant of the keys file).
\startpipeline
SELECT set_config('app.tenant_id', :t, true);
INSERT INTO projects (tenant_id, id, name, description, created_at, updated_at) VALUES (:t::uuid, gen_random_uuid(), 'pgbench', NULL, now(), now()) RETURNING tenant_id, id, name, description, created_at, updated_at;
\endpipeline
