//! Comparison variants for the benchmark harness in `bench/`, compiled only
//! with `--features bench`: never in a default or release build, never in
//! the spec, not reachable through configuration.
//!
//! * `GET /bench/hello`: the plain-endpoint baseline of the same build.
//! * `GET /bench/projects/{id}` with `X-Bench-Tenant: <uuid>`: get-by-id
//!   without the API-key check, to measure what authentication costs.
//! * `tenantry bench-seed`: bulk data for the load runs.
//! * `tenantry bench-tokens`: an owner's access token per seeded tenant,
//!   signed with the server's keys, for the bearer-token runs.

use std::io::Write;
use std::path::Path;

use poem::web::{Data, Json, Path as PathParam};
use poem::{Request, Route, get, handler};
use poem_openapi::types::ToJSON;
use uuid::Uuid;

use crate::access::{Principal, Scope};
use crate::api::projects::ProjectOut;
use crate::app::AppState;
use crate::auth::api_key;
use crate::error::{ApiError, ErrorCode};

pub fn routes() -> Route {
    Route::new()
        .at("/hello", get(hello))
        .at("/projects/:id", get(project_without_key))
}

#[handler]
fn hello() -> &'static str {
    "hello"
}

#[handler]
async fn project_without_key(
    req: &Request,
    PathParam(id): PathParam<Uuid>,
    state: Data<&AppState>,
) -> poem::Result<Json<serde_json::Value>> {
    let tenant = req
        .header("x-bench-tenant")
        .and_then(|t| t.parse::<Uuid>().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, "X-Bench-Tenant: a tenant id is required"))?;
    let principal = Principal::operator(tenant);
    let db = state.tenant_db(&principal, Scope::ProjectsRead)?;
    let project = crate::domain::projects::get(&db, id).await.map_err(ApiError::from)?;
    Ok(Json(ProjectOut::from(project).to_json().unwrap_or_default()))
}

/// Seeds `tenants` tenants with `projects` projects and one all-scope key
/// each, and writes `key<TAB>tenant_id<TAB>project_id` lines to `out`.
pub async fn seed(
    db: &crate::db::Db,
    keys: &crate::secret::Keys,
    prefix: &str,
    tenants: u32,
    projects: u32,
    placement: crate::domain::tenants::Placement,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let generated: Vec<(String, String, String)> = (0..tenants)
        .map(|_| {
            let key = api_key::generate();
            let hash = api_key::hash(&keys.api_key, &key.secret);
            (key.secret, key.display_prefix, hash)
        })
        .collect();
    let rows = db.bench_seed(prefix, projects, &generated).await?;
    if placement == crate::domain::tenants::Placement::Schema {
        let started = std::time::Instant::now();
        for (n, (_, tenant, _)) in rows.iter().enumerate() {
            db.bench_move_to_schema(*tenant).await?;
            if (n + 1) % 250 == 0 || n + 1 == rows.len() {
                eprintln!(
                    "   {}/{} tenants in schemas of their own ({:.0} ms each)",
                    n + 1,
                    rows.len(),
                    started.elapsed().as_secs_f64() * 1000.0 / (n + 1) as f64
                );
            }
        }
    }
    if placement == crate::domain::tenants::Placement::Database {
        let started = std::time::Instant::now();
        for (n, (_, tenant, _)) in rows.iter().enumerate() {
            db.bench_move_to_database(*tenant).await?;
            if (n + 1) % 10 == 0 || n + 1 == rows.len() {
                eprintln!(
                    "   {}/{} tenants in databases of their own ({:.0} ms each)",
                    n + 1,
                    rows.len(),
                    started.elapsed().as_secs_f64() * 1000.0 / (n + 1) as f64
                );
            }
        }
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for (key, tenant, project) in rows {
        writeln!(file, "{key}\t{tenant}\t{project}")?;
    }
    file.flush()?;
    Ok(())
}

/// Writes `token<TAB>tenant_id<TAB>project_id` for every line of `keys` (a
/// `bench-seed` file): a 15-minute owner access token for that tenant, signed
/// with the keyring the server uses, for a person who is never looked up
/// (verifying a token needs no database).
pub fn tokens(settings: &crate::config::Settings, keys: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::BufRead;
    let now = chrono::Utc::now();
    let auth = crate::auth::AuthState::from_settings(settings, crate::auth::throttle::LoginThrottle::default(), now)?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for line in std::io::BufReader::new(std::fs::File::open(keys)?).lines() {
        let line = line?;
        let mut fields = line.split('\t');
        let (Some(_key), Some(tenant), Some(project)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(format!("not a bench-seed line: {line}").into());
        };
        let subject = crate::auth::jwt::Subject {
            user: Uuid::new_v4(),
            tenant: tenant.parse()?,
            role: "owner",
            session: Uuid::new_v4(),
            generation: 0,
        };
        let (token, _) = auth.keyring.issue(&auth.tokens, &subject, now)?;
        writeln!(file, "{token}\t{tenant}\t{project}")?;
    }
    file.flush()?;
    Ok(())
}
