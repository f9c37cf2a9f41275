-- Schema and data for the driver benchmark (bench/drivers). Idempotent.
-- Run as postgres:  psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -f setup.sql
SELECT 'CREATE DATABASE tenantry_drivers'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'tenantry_drivers')
\gexec

SELECT 'CREATE ROLE drivers_app LOGIN NOSUPERUSER NOBYPASSRLS'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'drivers_app')
\gexec
ALTER ROLE drivers_app LOGIN NOSUPERUSER NOBYPASSRLS;

\connect tenantry_drivers

CREATE TABLE IF NOT EXISTS tenants (
    id uuid PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS projects (
    tenant_id   uuid        NOT NULL REFERENCES tenants,
    id          uuid        NOT NULL,
    name        text        NOT NULL,
    description text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON projects;
CREATE POLICY tenant_isolation ON projects
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);

GRANT CONNECT ON DATABASE tenantry_drivers TO drivers_app;
GRANT USAGE ON SCHEMA public TO drivers_app;
GRANT SELECT ON tenants, projects TO drivers_app;

-- 1,000 tenants x 100 projects, only when not loaded yet (postgres owns the
-- tables; as owner under FORCE RLS it is still a superuser, which bypasses RLS).
INSERT INTO tenants (id)
SELECT gen_random_uuid() FROM generate_series(1, 1000)
WHERE NOT EXISTS (SELECT 1 FROM tenants);

INSERT INTO projects (tenant_id, id, name, description, created_at, updated_at)
SELECT t.id,
       gen_random_uuid(),
       'project-' || substr(md5(random()::text), 1, 6 + (random() * 18)::int),
       CASE WHEN random() < 0.1 THEN NULL
            ELSE left(md5(random()::text) || ' ' || md5(random()::text) || ' ' || md5(random()::text),
                      20 + (random() * 80)::int) END,
       ts,
       ts + (random() * interval '30 days')
FROM tenants t
CROSS JOIN generate_series(1, 100) AS g(n)
CROSS JOIN LATERAL (SELECT now() - (random() * interval '365 days') + (g.n * interval '0 s')
                           + (length(t.id::text) * interval '0 s') AS ts) c
WHERE NOT EXISTS (SELECT 1 FROM projects);

VACUUM ANALYZE tenants;
VACUUM ANALYZE projects;

SELECT (SELECT count(*) FROM tenants) AS tenants, (SELECT count(*) FROM projects) AS projects;
