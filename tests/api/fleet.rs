//! Fleet migrations over tenants in schemas of their own: one failed tenant
//! stops nobody else and a rerun finishes it, a canary failure stops the run
//! before the rest are touched, an interrupted run resumes, a current fleet
//! is one question, and the server refuses (503) only a tenant whose
//! storage is behind.

use futures_util::StreamExt;
use migration::{Alias, ColumnDef, DbErr, DynIden, MigrationName, MigrationTrait, MigratorTrait, SchemaManager, Table};
use sea_orm::sqlx::{self, Connection, PgConnection};
use tenantry::clock::Clock;
use tenantry::db::{FleetOptions, FleetProgress, FleetReport};
use tenantry::domain::tenants::{self, Placement};

use crate::support::TestApp;
use crate::{both_backends, postgres_only};

both_backends!(database_tenants_migrate_with_the_fleet,);

postgres_only!(
    a_failed_tenant_stops_nobody_and_a_rerun_finishes_it,
    a_canary_failure_stops_before_the_rest,
    an_interrupted_run_resumes_where_it_stopped,
    serve_refuses_only_a_tenant_whose_storage_is_behind,
    a_deleted_tenant_s_schema_is_dropped_by_the_next_run,
    two_runs_at_once_migrate_each_tenant_once,
);

/// The tenant set with one more migration, as a release that adds a column
/// would have it.
struct NextRelease;

#[migration::async_trait::async_trait]
impl MigratorTrait for NextRelease {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = migration::TenantMigrator::migrations();
        all.push(Box::new(AddNote));
        all
    }

    fn migration_table_name() -> DynIden {
        migration::TenantMigrator::migration_table_name()
    }
}

struct AddNote;

impl MigrationName for AddNote {
    fn name(&self) -> &str {
        "t29991231_000001_fleet_note"
    }
}

#[migration::async_trait::async_trait]
impl MigrationTrait for AddNote {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("projects"))
                    .add_column(ColumnDef::new(Alias::new("fleet_note")).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

/// `n` tenants, each in a schema of its own, oldest (smallest id) first.
async fn schema_tenants(app: &TestApp, n: usize) -> Vec<tenants::Tenant> {
    let platform = app.owner.platform();
    let mut made: Vec<tenants::Tenant> = futures_util::stream::iter(0..n)
        .map(|i| {
            let platform = platform.clone();
            let now = app.clock.now();
            async move {
                let slug = format!("fleet-{i}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
                tenants::create(&platform, now, &slug, None, Placement::Schema)
                    .await
                    .expect("a schema tenant")
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    made.sort_by_key(|t| t.id);
    made
}

async fn owner_conn(app: &TestApp) -> PgConnection {
    PgConnection::connect(app.settings.database.url())
        .await
        .expect("connect")
}

async fn exec(conn: &mut PgConnection, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await
        .expect("statement");
}

/// How many tenant schemas have the next release's column.
async fn with_note(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns
          WHERE table_schema LIKE 't\\_%' AND table_name = 'projects' AND column_name = 'fleet_note'",
    )
    .fetch_one(conn)
    .await
    .expect("count")
}

/// How many tenant-set migrations a tenant's own ledger records.
async fn ledger_len(conn: &mut PgConnection, tenant: uuid::Uuid) -> i64 {
    let schema = tenantry::db::schema_name(tenant);
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {schema}.{}",
        migration::TENANT_LEDGER
    )))
    .fetch_one(conn)
    .await
    .expect("ledger")
}

async fn run(app: &TestApp, options: FleetOptions) -> FleetReport {
    app.owner
        .migrate_fleet_to::<NextRelease>(options, &|_| {})
        .await
        .expect("the fleet run itself succeeds")
}

async fn a_failed_tenant_stops_nobody_and_a_rerun_finishes_it(app: TestApp) {
    let fleet = schema_tenants(&app, 200).await;
    let broken = &fleet[57];
    let schema = tenantry::db::schema_name(broken.id);
    let mut conn = owner_conn(&app).await;
    // The column the next release adds is already there: its migration fails.
    exec(
        &mut conn,
        format!("ALTER TABLE {schema}.projects ADD COLUMN fleet_note text"),
    )
    .await;

    let first = run(
        &app,
        FleetOptions {
            parallel: 4,
            ..FleetOptions::default()
        },
    )
    .await;
    assert_eq!(first.behind, 200);
    assert_eq!(first.migrated, 199);
    assert_eq!(first.not_attempted, 0);
    assert_eq!(first.failed.len(), 1);
    assert_eq!(first.failed[0].slug, broken.slug);
    assert!(
        first.failed[0].error.contains("fleet_note"),
        "{}",
        first.failed[0].error
    );
    let status = app.owner.migration_status().await.expect("status");
    assert_eq!(status.failing.len(), 1, "the failure is recorded beside the tenant");
    assert_eq!(status.failing[0].slug, broken.slug);

    // The fix, then a rerun: only the failed tenant is left, and it is done.
    exec(
        &mut conn,
        format!("ALTER TABLE {schema}.projects DROP COLUMN fleet_note"),
    )
    .await;
    let second = run(&app, FleetOptions::default()).await;
    assert_eq!((second.behind, second.migrated, second.failed.len()), (1, 1, 0));
    assert_eq!(with_note(&mut conn).await, 200);
    let status = app.owner.migration_status().await.expect("status");
    assert!(status.failing.is_empty(), "a success clears the error");

    // Current: nothing to do, asked in one question.
    let third = run(&app, FleetOptions::default()).await;
    assert_eq!((third.behind, third.migrated), (0, 0));
}

async fn a_canary_failure_stops_before_the_rest(app: TestApp) {
    let fleet = schema_tenants(&app, 20).await;
    let mut conn = owner_conn(&app).await;
    let first = tenantry::db::schema_name(fleet[0].id);
    exec(
        &mut conn,
        format!("ALTER TABLE {first}.projects ADD COLUMN fleet_note text"),
    )
    .await;
    let report = run(
        &app,
        FleetOptions {
            parallel: 2,
            fail_fast: false,
            canary: Some(5),
        },
    )
    .await;
    assert_eq!(report.failed.len(), 1);
    assert!(report.migrated <= 4, "{report:?}");
    assert_eq!(report.migrated + report.not_attempted + 1, 20, "{report:?}");
    // Nothing past the canaries was touched (the broken one had the column).
    assert_eq!(
        with_note(&mut conn).await,
        i64::try_from(report.migrated + 1).unwrap_or(-1)
    );
    for tenant in &fleet[5..] {
        let ledger = ledger_len(&mut conn, tenant.id).await;
        assert_eq!(
            ledger,
            i64::try_from(migration::TenantMigrator::migrations().len()).unwrap_or(-1)
        );
    }
}

async fn an_interrupted_run_resumes_where_it_stopped(app: TestApp) {
    let fleet = schema_tenants(&app, 30).await;
    let (enough, reached) = tokio::sync::oneshot::channel::<()>();
    let enough = std::sync::Mutex::new(Some(enough));
    let owner = app.owner.clone();
    let running = tokio::spawn(async move {
        let progress = move |p: FleetProgress| {
            if p.done >= 10
                && let Some(tx) = enough.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
            {
                let _ = tx.send(());
            }
        };
        owner
            .migrate_fleet_to::<NextRelease>(
                FleetOptions {
                    parallel: 2,
                    ..FleetOptions::default()
                },
                &progress,
            )
            .await
    });
    reached.await.expect("ten tenants done");
    running.abort();
    let _ = running.await;

    let mut conn = owner_conn(&app).await;
    let done_before = with_note(&mut conn).await;
    assert!((10..30).contains(&done_before), "{done_before} of 30 before the rerun");
    let rest = run(&app, FleetOptions::default()).await;
    assert_eq!(i64::try_from(rest.behind).unwrap_or(-1), 30 - done_before, "{rest:?}");
    assert_eq!(rest.migrated, rest.behind);
    assert_eq!(with_note(&mut conn).await, 30);
    // Every tenant's ledger has each migration once.
    for tenant in &fleet {
        let ledger = ledger_len(&mut conn, tenant.id).await;
        assert_eq!(ledger, i64::try_from(NextRelease::migrations().len()).unwrap_or(-1));
    }
}

async fn serve_refuses_only_a_tenant_whose_storage_is_behind(app: TestApp) {
    let a = app.tenant_in("behind", Placement::Schema).await;
    let b = app.tenant("shared").await;
    let mut conn = owner_conn(&app).await;
    exec(
        &mut conn,
        format!(
            "UPDATE tenants SET storage_version = 't20200101_000001_older' WHERE id = '{}'",
            a.id
        ),
    )
    .await;
    let refused = app.get("/v1/projects", &a.key).await;
    refused.problem(503, "unavailable");
    assert!(refused.headers.get("retry-after").is_some(), "Retry-After on the 503");
    app.get("/v1/projects", &b.key).await.ok(200);

    // Migrated, it is served at once: a refusal is never remembered.
    let report = app
        .owner
        .migrate_fleet(FleetOptions::default(), &|_| {})
        .await
        .expect("fleet");
    assert_eq!((report.behind, report.migrated), (1, 1));
    app.get("/v1/projects", &a.key).await.ok(200);
    let status = app.owner.migration_status().await.expect("status");
    assert_eq!(status.tenants.current, status.tenants.total);
}

async fn a_deleted_tenant_s_schema_is_dropped_by_the_next_run(app: TestApp) {
    let gone = app.tenant_in("gone", Placement::Schema).await;
    let kept = app.tenant_in("kept", Placement::Schema).await;
    app.project(&gone.key, "goes with it").await;
    let operator = tenantry::access::Principal::operator(gone.id);
    let db = app.owner.scoped(&operator.authenticated());
    let deleted = tenants::delete(&db, app.clock.now()).await.expect("deleted");
    app.state.apply(deleted).await;
    let schemas = || async {
        let mut conn = owner_conn(&app).await;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%' ORDER BY 1")
                .fetch_all(&mut conn)
                .await
                .expect("schemas");
        names
    };
    let gone_schema = tenantry::db::schema_name(gone.id);
    let kept_schema = tenantry::db::schema_name(kept.id);
    assert!(
        schemas().await.contains(&gone_schema),
        "the serving role cannot drop it"
    );
    let report = app
        .owner
        .migrate_fleet(FleetOptions::default(), &|_| {})
        .await
        .expect("fleet");
    assert_eq!(report.dropped, vec![gone_schema.clone()]);
    assert_eq!(schemas().await, vec![kept_schema]);
    let again = app
        .owner
        .migrate_fleet(FleetOptions::default(), &|_| {})
        .await
        .expect("fleet");
    assert!(again.dropped.is_empty());
}

/// Two instances starting at once (or `serve` and the CLI): each tenant is
/// migrated by one of them, the other finds it current, and neither fails.
async fn two_runs_at_once_migrate_each_tenant_once(app: TestApp) {
    let fleet = schema_tenants(&app, 24).await;
    let options = FleetOptions {
        parallel: 3,
        ..FleetOptions::default()
    };
    let (one, two) = tokio::join!(run(&app, options), run(&app, options));
    assert!(one.failed.is_empty() && two.failed.is_empty(), "{one:?} {two:?}");
    let mut conn = owner_conn(&app).await;
    assert_eq!(with_note(&mut conn).await, 24);
    for tenant in &fleet {
        let ledger = ledger_len(&mut conn, tenant.id).await;
        assert_eq!(ledger, i64::try_from(NextRelease::migrations().len()).unwrap_or(-1));
    }
    let status = app.owner.migration_status().await.expect("status");
    assert!(status.failing.is_empty());
}

/// Runs `sql` as the owner in `tenant`'s own database (or SQLite file).
async fn in_tenant_database(app: &TestApp, tenant: uuid::Uuid, sql: &str) -> Result<u64, sqlx::Error> {
    if app.settings.is_sqlite() {
        let file = app
            .settings
            .data_dir
            .join("tenants")
            .join(format!("{}.db", tenant.simple()));
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await?;
        return Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await?
            .rows_affected());
    }
    let url = app.settings.database.url();
    let base = url.rsplit_once('/').map_or(url, |(base, _)| base);
    let mut conn = PgConnection::connect(&format!("{base}/{}", tenantry::db::database_name(tenant))).await?;
    Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?
        .rows_affected())
}

/// Tenants in databases of their own go through the same fleet run: each
/// migrated in its own database, one that fails recorded without stopping
/// the others, a rerun after the fix finishing it, and the server never
/// running new statements on the old one.
async fn database_tenants_migrate_with_the_fleet(app: TestApp) {
    let mut fleet = Vec::new();
    for i in 0..3 {
        fleet.push(app.tenant_in(&format!("own-{i}"), Placement::Database).await);
    }
    let broken = &fleet[1];
    in_tenant_database(&app, broken.id, "ALTER TABLE projects ADD COLUMN fleet_note text")
        .await
        .expect("the column the next release adds is already there");

    let first = run(&app, FleetOptions::default()).await;
    assert_eq!(
        (first.behind, first.migrated, first.failed.len()),
        (3, 2, 1),
        "{first:?}"
    );
    assert_eq!(first.failed[0].slug, broken.slug);
    for tenant in [&fleet[0], &fleet[2]] {
        let has = in_tenant_database(&app, tenant.id, "SELECT fleet_note FROM projects").await;
        assert!(has.is_ok(), "{}: migrated in its own database", tenant.slug);
    }
    // The failed one is behind the next release: this server (the current
    // release) still serves it, since its storage is not older than its code.
    app.project(&broken.key, "still served").await;

    in_tenant_database(&app, broken.id, "ALTER TABLE projects DROP COLUMN fleet_note")
        .await
        .expect("the fix");
    let second = run(&app, FleetOptions::default()).await;
    assert_eq!(
        (second.behind, second.migrated, second.failed.len()),
        (1, 1, 0),
        "{second:?}"
    );
    let third = run(&app, FleetOptions::default()).await;
    assert_eq!((third.behind, third.migrated), (0, 0));
}
