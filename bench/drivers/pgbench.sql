\startpipeline
SELECT set_config('app.tenant_id', :t, true);
SELECT tenant_id, id, name, description, created_at, updated_at FROM projects WHERE tenant_id = :t::uuid AND id = :p::uuid LIMIT 1;
\endpipeline
