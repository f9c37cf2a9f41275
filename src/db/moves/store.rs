//! A tenant's storage as a move reaches it, and the statements a move runs
//! there: its change log and the triggers that fill it, the triggers that
//! refuse the tenant's writes, the batched copy, the catch-up and the
//! verification.
//!
//! * On PostgreSQL the shared tables and a tenant's schema are reached on
//!   the platform's connection (statements name the schema), a tenant
//!   database on a connection of its own. Between two storages of one
//!   database rows travel in one statement (`INSERT … SELECT`); between two
//!   databases as JSON, a batch per round trip (`json_agg` there,
//!   `json_populate_recordset` here), each value through its type's own
//!   text form.
//! * On SQLite the tenant's file is attached to one connection of the
//!   platform's (`moving`), so every statement reaches both storages.
//! * Every statement names only identifiers from the tenant set's list and
//!   the catalog, and values that are the tenant's id and row ids read from
//!   the database (rendered as literals by [`Store::uuid`]), never a text a
//!   person typed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, IsolationLevel, QueryResult,
    Statement, TransactionTrait,
};
use uuid::Uuid;

/// What the triggers that refuse a moving tenant's writes say; a request
/// that meets it is answered `503` with `Retry-After`.
pub const MOVING: &str = "tenantry: the tenant is being moved";

/// The schema an attached SQLite tenant file is reached under.
pub(super) const ATTACHED: &str = "moving";

/// The tenant set's tables a move copies, parents before children: all
/// but its ledger and its change log.
pub(super) fn moved_tables() -> Vec<&'static str> {
    migration::TENANT_SET
        .iter()
        .filter(|t| **t != migration::TENANT_LEDGER && **t != migration::TENANT_CHANGES)
        .copied()
        .collect()
}

/// A foreign key from a moved table to another (not to `tenants`).
#[derive(Debug, Clone)]
pub(super) struct Parent {
    table: String,
    columns: Vec<String>,
    references: Vec<String>,
}

/// A moved table as both storages have it.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) name: &'static str,
    columns: Vec<String>,
    parents: Vec<Parent>,
}

/// One table's rows and checksum in one storage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub rows: u64,
    /// PostgreSQL: the sum of each row's MD5 (its first 64 bits), computed
    /// by the database over the row's columns in name order.
    pub checksum: Option<String>,
}

/// A storage of the tenant's data, as the mover reaches it.
pub(super) struct Store {
    /// How statements name its schema: `public` or `t_<hex>` on
    /// PostgreSQL, `main` or [`ATTACHED`] on SQLite.
    pub(super) schema: String,
    pub(super) conn: DatabaseConnection,
    /// Whether `conn` is this storage's own (a PostgreSQL tenant database's).
    pub(super) own: bool,
    /// The SQLite file attached as [`ATTACHED`], for a tenant database.
    pub(super) attach: Option<std::path::PathBuf>,
    pub(super) tenant: Uuid,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[expect(
    clippy::disallowed_methods,
    reason = "the operator's move: statements over one tenant's rows, scoped by its id"
)]
impl Store {
    pub(super) fn backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    fn postgres(&self) -> bool {
        self.backend() == DatabaseBackend::Postgres
    }

    /// Whether `other` is reached on the same connection (rows then travel
    /// in one statement).
    pub(super) fn shares_connection(&self, other: &Store) -> bool {
        !self.own && !other.own
    }

    /// `schema.table`, quoted.
    fn table(&self, table: &str) -> String {
        format!("{}.{}", quote(&self.schema), quote(table))
    }

    /// A UUID as a literal of the backend's type for it.
    pub(super) fn uuid(&self, id: Uuid) -> String {
        if self.postgres() {
            format!("'{id}'::uuid")
        } else {
            format!("X'{}'", id.simple())
        }
    }

    fn tenant_literal(&self) -> String {
        self.uuid(self.tenant)
    }

    fn statement(&self, sql: impl Into<String>) -> Statement {
        Statement::from_string(self.backend(), sql.into())
    }

    /// Attaches the tenant's SQLite file if this connection has not yet.
    async fn attach(&self) -> Result<(), DbErr> {
        let Some(path) = &self.attach else { return Ok(()) };
        let attached = self
            .conn
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "SELECT 1 AS one FROM pragma_database_list WHERE name = ?",
                [ATTACHED.into()],
            ))
            .await?
            .is_some();
        if !attached {
            self.conn
                .execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Sqlite,
                    format!("ATTACH DATABASE ? AS {ATTACHED}"),
                    [path.display().to_string().into()],
                ))
                .await?;
        }
        Ok(())
    }

    /// Detaches the tenant's SQLite file (before it is removed).
    pub(super) async fn detach(&self) -> Result<(), DbErr> {
        if self.attach.is_some() {
            let _ = self
                .conn
                .execute_unprepared(&format!("DETACH DATABASE {ATTACHED}"))
                .await;
        }
        Ok(())
    }

    /// A transaction in the tenant's scope: on PostgreSQL its setting (so
    /// row-level security admits its rows whatever the migrating role) and
    /// the mover's own mark, which the refusing triggers let through;
    /// `repeatable` reads one snapshot throughout. On SQLite a writing
    /// transaction takes the write lock first.
    pub(super) async fn begin(&self, write: bool, repeatable: bool) -> Result<DatabaseTransaction, DbErr> {
        self.attach().await?;
        if self.postgres() {
            let txn = if repeatable {
                self.conn
                    .begin_with_config(Some(IsolationLevel::RepeatableRead), None)
                    .await?
            } else {
                self.conn.begin().await?
            };
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT set_config($1, $2, true), set_config('tenantry.mover', 'on', true)",
                [migration::APP_TENANT_SETTING.into(), self.tenant.to_string().into()],
            ))
            .await?;
            return Ok(txn);
        }
        if write {
            self.conn
                .begin_with_options(sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await
        } else {
            self.conn.begin().await
        }
    }

    /// The columns of `table` here, in their order.
    async fn columns(&self, txn: &DatabaseTransaction, table: &str) -> Result<Vec<String>, DbErr> {
        let rows = if self.postgres() {
            txn.query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT column_name::text AS name FROM information_schema.columns
                  WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                [self.schema.clone().into(), table.into()],
            ))
            .await?
        } else {
            txn.query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "SELECT name FROM pragma_table_info(?, ?) ORDER BY cid",
                [table.into(), self.schema.clone().into()],
            ))
            .await?
        };
        rows.iter().map(|r| r.try_get::<String>("", "name")).collect()
    }

    /// The foreign keys from `table` to other tables of the tenant set.
    async fn parents(&self, txn: &DatabaseTransaction, table: &str) -> Result<Vec<Parent>, DbErr> {
        let mut found: BTreeMap<String, Parent> = BTreeMap::new();
        if self.postgres() {
            let rows = txn
                .query_all_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT c.conname::text AS name, r.relname::text AS parent,
                            array_to_string(ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                              JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), ',') AS cols,
                            array_to_string(ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
                              JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o), ',') AS refs
                       FROM pg_constraint c
                       JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
                       JOIN pg_class r ON r.oid = c.confrelid
                      WHERE n.nspname = $1 AND t.relname = $2 AND c.contype = 'f' AND r.relname <> 'tenants'",
                    [self.schema.clone().into(), table.into()],
                ))
                .await?;
            for row in rows {
                let split = |s: String| s.split(',').map(str::to_owned).collect::<Vec<_>>();
                found.insert(
                    row.try_get("", "name")?,
                    Parent {
                        table: row.try_get("", "parent")?,
                        columns: split(row.try_get("", "cols")?),
                        references: split(row.try_get("", "refs")?),
                    },
                );
            }
        } else {
            let rows = txn
                .query_all_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Sqlite,
                    "SELECT id, \"table\" AS parent, \"from\" AS col, \"to\" AS ref
                       FROM pragma_foreign_key_list(?, ?) WHERE \"table\" <> 'tenants' ORDER BY id, seq",
                    [table.into(), self.schema.clone().into()],
                ))
                .await?;
            for row in rows {
                let id: i64 = row.try_get("", "id")?;
                let entry = found.entry(id.to_string()).or_insert_with(|| Parent {
                    table: String::new(),
                    columns: Vec::new(),
                    references: Vec::new(),
                });
                entry.table = row.try_get("", "parent")?;
                entry.columns.push(row.try_get("", "col")?);
                entry.references.push(row.try_get("", "ref")?);
            }
        }
        Ok(found.into_values().collect())
    }

    /// The moved tables as this storage has them, checked to be exactly
    /// those of `other` (the same columns): a move never copies between
    /// storages at different migrations.
    pub(super) async fn tables(&self, other: &Store) -> Result<Vec<Table>, DbErr> {
        // One storage after the other: on SQLite both are one connection.
        let mine = self.begin(false, false).await?;
        let mut columns = Vec::new();
        for name in moved_tables() {
            columns.push(self.columns(&mine, name).await?);
        }
        mine.commit().await?;
        let theirs = other.begin(false, false).await?;
        let mut tables = Vec::new();
        for (name, columns) in moved_tables().into_iter().zip(columns) {
            let mut other_columns = other.columns(&theirs, name).await?;
            let mut sorted = columns.clone();
            sorted.sort();
            other_columns.sort();
            if columns.is_empty() || sorted != other_columns {
                return Err(DbErr::Custom(format!(
                    "table `{name}` differs between the two storages ({} and {}): run `tenantry migrate` first",
                    sorted.join(", "),
                    other_columns.join(", ")
                )));
            }
            for key in ["tenant_id", "id"] {
                if !columns.iter().any(|c| c == key) {
                    return Err(DbErr::Custom(format!(
                        "table `{name}` has no `{key}` column to move by"
                    )));
                }
            }
            let parents = other.parents(&theirs, name).await?;
            tables.push(Table { name, columns, parents });
        }
        theirs.commit().await?;
        Ok(tables)
    }

    fn trigger_name(&self, kind: &str, table: &str, op: &str) -> String {
        // `tenantry_` 9, kind ≤ 7, table, tenant 32, op 1: within 63 for
        // the tenant set's names.
        format!("tenantry_{kind}_{table}_{}_{op}", self.tenant.simple())
    }

    /// PostgreSQL: `kind`'s row triggers (`timing` the writes) on every
    /// moved table, for the tenant's rows only, calling `function`.
    fn pg_triggers(&self, kind: &str, timing: &str, function: &str) -> String {
        let tenant = self.tenant_literal();
        let mut sql = String::new();
        for table in moved_tables() {
            let target = self.table(table);
            let _ = write!(
                sql,
                "CREATE OR REPLACE TRIGGER {w} {timing} INSERT OR UPDATE ON {target} FOR EACH ROW
                   WHEN (NEW.tenant_id = {tenant}) EXECUTE FUNCTION {function}();
                 CREATE OR REPLACE TRIGGER {d} {timing} DELETE ON {target} FOR EACH ROW
                   WHEN (OLD.tenant_id = {tenant}) EXECUTE FUNCTION {function}();",
                w = self.trigger_name(kind, table, "w"),
                d = self.trigger_name(kind, table, "d"),
            );
        }
        sql
    }

    /// Installs the triggers that log which of the tenant's rows change
    /// (idempotent).
    pub(super) async fn install_capture(&self) -> Result<(), DbErr> {
        let tenant = self.tenant_literal();
        let mut sql = String::new();
        if self.postgres() {
            let log = self.table(migration::TENANT_CHANGES);
            let function = format!("{}.tenantry_move_capture", quote(&self.schema));
            let _ = write!(
                sql,
                "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF TG_OP <> 'INSERT' THEN
                     INSERT INTO {log} (tenant_id, table_name, row_id) VALUES (OLD.tenant_id, TG_TABLE_NAME, OLD.id);
                   END IF;
                   IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id) THEN
                     INSERT INTO {log} (tenant_id, table_name, row_id) VALUES (NEW.tenant_id, TG_TABLE_NAME, NEW.id);
                   END IF;
                   RETURN NULL;
                 END $$;"
            );
            sql.push_str(&self.pg_triggers("capture", "AFTER", &function));
        } else {
            let schema = quote(&self.schema);
            let log = quote(migration::TENANT_CHANGES);
            for table in moved_tables() {
                let on = quote(table);
                let name = |op| format!("{schema}.{}", self.trigger_name("capture", table, op));
                let _ = write!(
                    sql,
                    "CREATE TRIGGER IF NOT EXISTS {i} AFTER INSERT ON {on} WHEN NEW.tenant_id = {tenant} BEGIN
                       INSERT INTO {log} (tenant_id, table_name, row_id) VALUES (NEW.tenant_id, '{table}', NEW.id);
                     END;
                     CREATE TRIGGER IF NOT EXISTS {u} AFTER UPDATE ON {on} WHEN NEW.tenant_id = {tenant} BEGIN
                       INSERT INTO {log} (tenant_id, table_name, row_id) VALUES (OLD.tenant_id, '{table}', OLD.id);
                       INSERT INTO {log} (tenant_id, table_name, row_id)
                         SELECT NEW.tenant_id, '{table}', NEW.id WHERE NEW.id IS NOT OLD.id;
                     END;
                     CREATE TRIGGER IF NOT EXISTS {d} AFTER DELETE ON {on} WHEN OLD.tenant_id = {tenant} BEGIN
                       INSERT INTO {log} (tenant_id, table_name, row_id) VALUES (OLD.tenant_id, '{table}', OLD.id);
                     END;",
                    i = name("i"),
                    u = name("u"),
                    d = name("d"),
                );
            }
        }
        self.ddl(&sql).await
    }

    /// Installs the triggers that refuse the tenant's writes (but the
    /// mover's own, on PostgreSQL) with [`MOVING`]. On PostgreSQL creating
    /// them waits for the writes under way to commit: once this returns,
    /// every write the storage will ever take from a request is logged.
    pub(super) async fn install_refusal(&self) -> Result<(), DbErr> {
        self.ddl(&self.refusal_sql()).await
    }

    fn refusal_sql(&self) -> String {
        let tenant = self.tenant_literal();
        let mut sql = String::new();
        if self.postgres() {
            let function = format!("{}.tenantry_move_refuse", quote(&self.schema));
            let _ = write!(
                sql,
                "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                   IF current_setting('tenantry.mover', true) = 'on' THEN
                     IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                     RETURN NEW;
                   END IF;
                   RAISE EXCEPTION '{MOVING}' USING ERRCODE = '55000';
                 END $$;"
            );
            sql.push_str(&self.pg_triggers("refuse", "BEFORE", &function));
        } else {
            let schema = quote(&self.schema);
            for table in moved_tables() {
                let on = quote(table);
                for (op, event, row) in [("i", "INSERT", "NEW"), ("u", "UPDATE", "NEW"), ("d", "DELETE", "OLD")] {
                    let _ = write!(
                        sql,
                        "CREATE TRIGGER IF NOT EXISTS {schema}.{name} BEFORE {event} ON {on}
                           WHEN {row}.tenant_id = {tenant} BEGIN SELECT RAISE(ABORT, '{MOVING}'); END;",
                        name = self.trigger_name("refuse", table, op),
                    );
                }
            }
        }
        sql
    }

    fn drop_sql(&self, kind: &str) -> String {
        let mut sql = String::new();
        for table in moved_tables() {
            if self.postgres() {
                for op in ["w", "d"] {
                    let _ = write!(
                        sql,
                        "DROP TRIGGER IF EXISTS {} ON {};",
                        self.trigger_name(kind, table, op),
                        self.table(table)
                    );
                }
            } else {
                for op in ["i", "u", "d"] {
                    let _ = write!(
                        sql,
                        "DROP TRIGGER IF EXISTS {}.{};",
                        quote(&self.schema),
                        self.trigger_name(kind, table, op)
                    );
                }
            }
        }
        sql
    }

    pub(super) async fn drop_capture(&self) -> Result<(), DbErr> {
        self.ddl(&self.drop_sql("capture")).await
    }

    pub(super) async fn drop_refusal(&self) -> Result<(), DbErr> {
        self.ddl(&self.drop_sql("refuse")).await
    }

    async fn ddl(&self, sql: &str) -> Result<(), DbErr> {
        let txn = self.begin(true, false).await?;
        txn.execute_unprepared(sql).await?;
        txn.commit().await
    }

    /// Whether the refusing triggers are installed here (SQLite: the
    /// mover's own writes lift them inside their transaction).
    async fn refuses(&self, txn: &DatabaseTransaction) -> Result<bool, DbErr> {
        if self.postgres() {
            return Ok(false);
        }
        let found = txn
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                format!(
                    "SELECT 1 AS one FROM {}.sqlite_master WHERE type = 'trigger' AND name = ?",
                    quote(&self.schema)
                ),
                [self.trigger_name("refuse", moved_tables()[0], "i").into()],
            ))
            .await?;
        Ok(found.is_some())
    }

    /// Lets the mover's own writes through in `txn` (PostgreSQL: its mark,
    /// set by [`Store::begin`]; SQLite: the refusing triggers dropped in
    /// the transaction and made again before it commits, so no other
    /// writer ever finds them gone). What to run before committing.
    async fn let_mover_write(&self, txn: &DatabaseTransaction) -> Result<Option<String>, DbErr> {
        if !self.refuses(txn).await? {
            return Ok(None);
        }
        txn.execute_unprepared(&self.drop_sql("refuse")).await?;
        Ok(Some(self.refusal_sql()))
    }

    /// How many changes of the tenant's rows are logged and not yet copied.
    pub(super) async fn lag(&self) -> Result<u64, DbErr> {
        let txn = self.begin(false, false).await?;
        let row = txn
            .query_one_raw(self.statement(format!(
                "SELECT count(*) AS n FROM {} WHERE tenant_id = {}",
                self.table(migration::TENANT_CHANGES),
                self.tenant_literal()
            )))
            .await?;
        txn.commit().await?;
        let n: i64 = row.map_or(Ok(0), |r| r.try_get("", "n"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Forgets every logged change of the tenant here.
    pub(super) async fn clear_log(&self) -> Result<(), DbErr> {
        let txn = self.begin(true, false).await?;
        txn.execute_unprepared(&format!(
            "DELETE FROM {} WHERE tenant_id = {}",
            self.table(migration::TENANT_CHANGES),
            self.tenant_literal()
        ))
        .await?;
        txn.commit().await
    }

    /// Deletes every row of the tenant here (its copy in the shared
    /// tables), children first, in batches of `batch`; how many.
    pub(super) async fn delete_rows(&self, batch: u64) -> Result<u64, DbErr> {
        let mut deleted = 0;
        for table in moved_tables().into_iter().rev() {
            loop {
                let txn = self.begin(true, false).await?;
                let again = self.let_mover_write(&txn).await?;
                let name = self.table(table);
                let tenant = self.tenant_literal();
                let done = txn
                    .execute_unprepared(&format!(
                        "DELETE FROM {name} WHERE tenant_id = {tenant} AND id IN
                           (SELECT id FROM {name} WHERE tenant_id = {tenant} LIMIT {batch})"
                    ))
                    .await?
                    .rows_affected();
                if let Some(sql) = again {
                    txn.execute_unprepared(&sql).await?;
                }
                txn.commit().await?;
                deleted += done;
                if done < batch {
                    break;
                }
            }
        }
        Ok(deleted)
    }

    /// The tenant's rows and checksum of `table` here.
    pub(super) async fn tally(&self, table: &Table) -> Result<Tally, DbErr> {
        let txn = self.begin(false, false).await?;
        let mut columns: Vec<String> = table.columns.iter().map(|c| quote(c)).collect();
        columns.sort();
        let row = if self.postgres() {
            // Each value's text form, made alike in every session.
            txn.execute_unprepared(
                "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD';
                 SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 3",
            )
            .await?;
            txn.query_one_raw(self.statement(format!(
                "SELECT count(*) AS n,
                        coalesce(sum(('x' || substr(md5(ROW({columns})::text), 1, 16))::bit(64)::bigint), 0)::text AS sum
                   FROM {} WHERE tenant_id = {}",
                self.table(table.name),
                self.tenant_literal(),
                columns = columns.join(", "),
            )))
            .await?
        } else {
            txn.query_one_raw(self.statement(format!(
                "SELECT count(*) AS n, NULL AS sum FROM {} WHERE tenant_id = {}",
                self.table(table.name),
                self.tenant_literal()
            )))
            .await?
        };
        txn.commit().await?;
        let row = row.ok_or_else(|| DbErr::Custom("a count returned no row".to_owned()))?;
        let n: i64 = row.try_get("", "n")?;
        Ok(Tally {
            rows: u64::try_from(n).unwrap_or(0),
            checksum: row.try_get::<Option<String>>("", "sum")?,
        })
    }

    /// SQLite: how many of the tenant's rows of `table` differ between
    /// this storage and `other` (each compared whole, both ways).
    pub(super) async fn differing(&self, other: &Store, table: &Table) -> Result<u64, DbErr> {
        let columns: Vec<String> = table.columns.iter().map(|c| quote(c)).collect();
        let columns = columns.join(", ");
        let select = |store: &Store| {
            format!(
                "SELECT {columns} FROM {} WHERE tenant_id = {}",
                store.table(table.name),
                store.tenant_literal()
            )
        };
        let txn = self.begin(false, false).await?;
        let row = txn
            .query_one_raw(self.statement(format!(
                "SELECT (SELECT count(*) FROM ({a} EXCEPT {b})) + (SELECT count(*) FROM ({b} EXCEPT {a})) AS n",
                a = select(self),
                b = select(other),
            )))
            .await?;
        txn.commit().await?;
        let n: i64 = row.map_or(Ok(0), |r| r.try_get("", "n"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// The upsert of `table`'s rows into `target` from `rows` (a FROM clause
/// naming its rows `s`), keeping to rows whose parents `target` has when
/// `parents` (what the bulk copy may leave for the catch-up: a child whose
/// parent was made after the copy passed it is logged too).
fn upsert(target: &Store, table: &Table, from: &str, filter: &str, parents: bool) -> String {
    let columns: Vec<String> = table.columns.iter().map(|c| quote(c)).collect();
    let selected: Vec<String> = columns.iter().map(|c| format!("s.{c}")).collect();
    let mut condition = filter.to_owned();
    if parents {
        for parent in &table.parents {
            let joined: Vec<String> = parent
                .columns
                .iter()
                .zip(&parent.references)
                .map(|(c, r)| format!("p.{} = s.{}", quote(r), quote(c)))
                .collect();
            let _ = write!(
                condition,
                " AND EXISTS (SELECT 1 FROM {} p WHERE {})",
                target.table(&parent.table),
                joined.join(" AND ")
            );
        }
    }
    let updates: Vec<String> = table
        .columns
        .iter()
        .filter(|c| *c != "tenant_id" && *c != "id")
        .map(|c| format!("{} = excluded.{}", quote(c), quote(c)))
        .collect();
    let action = if updates.is_empty() {
        "NOTHING".to_owned()
    } else {
        format!("UPDATE SET {}", updates.join(", "))
    };
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM {from} WHERE {condition} ON CONFLICT (tenant_id, id) DO {action}",
        target.table(table.name),
        columns.join(", "),
        selected.join(", "),
    )
}

/// The ids as a list of literals.
fn id_list(store: &Store, ids: &BTreeSet<Uuid>) -> String {
    ids.iter().map(|id| store.uuid(*id)).collect::<Vec<_>>().join(", ")
}

/// The rows of `table` in `source` matching `filter` as one JSON array.
#[expect(
    clippy::disallowed_methods,
    reason = "the operator's move, scoped by the tenant's id"
)]
async fn rows_as_json(txn: &DatabaseTransaction, source: &Store, table: &Table, filter: &str) -> Result<String, DbErr> {
    let columns: Vec<String> = table.columns.iter().map(|c| quote(c)).collect();
    let row = txn
        .query_one_raw(source.statement(format!(
            "SELECT coalesce(json_agg(s), '[]')::text AS rows FROM (SELECT {} FROM {} WHERE {filter}) s",
            columns.join(", "),
            source.table(table.name),
        )))
        .await?;
    row.map_or(Ok("[]".to_owned()), |r| r.try_get("", "rows"))
}

/// Writes a JSON array of `table`'s rows into `target`.
#[expect(
    clippy::disallowed_methods,
    reason = "the operator's move, scoped by the tenant's id"
)]
async fn write_json(
    txn: &DatabaseTransaction,
    target: &Store,
    table: &Table,
    rows: String,
    parents: bool,
) -> Result<u64, DbErr> {
    let from = format!(
        "json_populate_recordset(NULL::{}, $1::json) s",
        target.table(table.name)
    );
    let sql = upsert(target, table, &from, "true", parents);
    Ok(txn
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            [rows.into()],
        ))
        .await?
        .rows_affected())
}

/// Where a batch of the bulk copy ends: the id of its last row, or `None`
/// when fewer than `batch` rows remain.
#[expect(
    clippy::disallowed_methods,
    reason = "the operator's move, scoped by the tenant's id"
)]
async fn batch_end(source: &Store, table: &Table, after: Option<Uuid>, batch: u64) -> Result<Option<Uuid>, DbErr> {
    let txn = source.begin(false, false).await?;
    let row = txn
        .query_one_raw(source.statement(format!(
            "SELECT id FROM {} WHERE tenant_id = {}{} ORDER BY id LIMIT 1 OFFSET {}",
            source.table(table.name),
            source.tenant_literal(),
            after.map_or(String::new(), |a| format!(" AND id > {}", source.uuid(a))),
            batch.saturating_sub(1),
        )))
        .await?;
    txn.commit().await?;
    row.map(|r| r.try_get::<Uuid>("", "id")).transpose()
}

/// The bulk copy of one table from `source` to `target`, batch by batch.
/// Between storages on different connections the next batch is read
/// while the current one is written.
pub(super) struct TableCopy<'a> {
    source: &'a Store,
    target: &'a Store,
    table: &'a Table,
    batch: u64,
    /// The next batch, read ahead: where it starts, its rows, where it ends.
    ahead: Option<(Option<Uuid>, String, Option<Uuid>)>,
}

impl<'a> TableCopy<'a> {
    pub(super) fn new(source: &'a Store, target: &'a Store, table: &'a Table, batch: u64) -> Self {
        Self {
            source,
            target,
            table,
            batch,
            ahead: None,
        }
    }

    /// Copies the batch after `after`: how many rows it wrote and where the
    /// next batch starts (`None`: the table is done).
    #[expect(
        clippy::disallowed_methods,
        reason = "the operator's move, scoped by the tenant's id"
    )]
    pub(super) async fn next(&mut self, after: Option<Uuid>) -> Result<(u64, Option<Uuid>), DbErr> {
        let (source, target, table) = (self.source, self.target, self.table);
        if source.shares_connection(target) {
            // One statement over both storages.
            let end = batch_end(source, table, after, self.batch).await?;
            let txn = target.begin(true, false).await?;
            let again = target.let_mover_write(&txn).await?;
            let from = format!("{} s", source.table(table.name));
            let written = txn
                .execute_unprepared(&upsert(target, table, &from, &range(source, "s.", after, end), true))
                .await?
                .rows_affected();
            if let Some(sql) = again {
                txn.execute_unprepared(&sql).await?;
            }
            txn.commit().await?;
            return Ok((written, end));
        }
        let (rows, end) = match self.ahead.take() {
            Some((from, rows, end)) if from == after => (rows, end),
            _ => self.read(after).await?,
        };
        let write = async {
            let txn = target.begin(true, false).await?;
            let written = write_json(&txn, target, table, rows, true).await?;
            txn.commit().await?;
            Ok(written)
        };
        let written = match end {
            Some(_) => {
                let (written, ahead) = tokio::try_join!(write, self.read(end))?;
                self.ahead = Some((end, ahead.0, ahead.1));
                written
            }
            None => write.await?,
        };
        Ok((written, end))
    }

    /// The rows of the batch after `after`, and where it ends.
    async fn read(&self, after: Option<Uuid>) -> Result<(String, Option<Uuid>), DbErr> {
        let end = batch_end(self.source, self.table, after, self.batch).await?;
        let read = self.source.begin(false, false).await?;
        let rows = rows_as_json(&read, self.source, self.table, &range(self.source, "", after, end)).await?;
        read.commit().await?;
        Ok((rows, end))
    }
}

/// The filter of the tenant's rows of a batch: ids after `after`, up to and
/// including `end` (`column`: the qualifier of the columns).
fn range(store: &Store, column: &str, after: Option<Uuid>, end: Option<Uuid>) -> String {
    let mut range = format!("{column}tenant_id = {}", store.tenant_literal());
    if let Some(after) = after {
        let _ = write!(range, " AND {column}id > {}", store.uuid(after));
    }
    if let Some(end) = end {
        let _ = write!(range, " AND {column}id <= {}", store.uuid(end));
    }
    range
}

/// One logged change.
struct Change {
    seq: i64,
    table: String,
    row: Uuid,
}

fn changes(rows: &[QueryResult]) -> Result<Vec<Change>, DbErr> {
    rows.iter()
        .map(|r| {
            Ok(Change {
                seq: r.try_get("", "seq")?,
                table: r.try_get("", "table_name")?,
                row: r.try_get("", "row_id")?,
            })
        })
        .collect()
}

/// Copies again up to `limit` of the logged changes of `source` (oldest
/// first) to `target`: each changed row as it is now, or its deletion,
/// parents' rows before children's and children's deletions before
/// parents'; then forgets those entries. How many it took (0: the log is
/// empty).
#[expect(
    clippy::disallowed_methods,
    reason = "the operator's move, scoped by the tenant's id"
)]
pub(super) async fn catch_up(source: &Store, target: &Store, tables: &[Table], limit: u64) -> Result<u64, DbErr> {
    let log = source.table(migration::TENANT_CHANGES);
    let direct = source.shares_connection(target);
    // One snapshot of the source for the whole batch: a child and its
    // parent are read as they were together.
    let read = source
        .begin(direct, source.backend() == DatabaseBackend::Postgres)
        .await?;
    let entries = changes(
        &read
            .query_all_raw(source.statement(format!(
                "SELECT seq, table_name, row_id FROM {log} WHERE tenant_id = {} ORDER BY seq LIMIT {limit}",
                source.tenant_literal()
            )))
            .await?,
    )?;
    if entries.is_empty() {
        read.commit().await?;
        return Ok(0);
    }
    let mut by_table: BTreeMap<&str, BTreeSet<Uuid>> = BTreeMap::new();
    for entry in &entries {
        by_table.entry(entry.table.as_str()).or_default().insert(entry.row);
    }
    let seqs = entries.iter().map(|e| e.seq.to_string()).collect::<Vec<_>>().join(", ");
    let forget = format!(
        "DELETE FROM {log} WHERE tenant_id = {} AND seq IN ({seqs})",
        source.tenant_literal()
    );
    let tenant = |store: &Store| format!("tenant_id = {}", store.tenant_literal());
    if direct {
        // One transaction over both storages: the copy and the log's
        // entries go together.
        let again = target.let_mover_write(&read).await?;
        for table in tables {
            let Some(ids) = by_table.get(table.name) else { continue };
            let from = format!("{} s", source.table(table.name));
            let filter = format!("s.{} AND s.id IN ({})", tenant(source), id_list(source, ids));
            read.execute_unprepared(&upsert(target, table, &from, &filter, false))
                .await?;
        }
        for table in tables.iter().rev() {
            let Some(ids) = by_table.get(table.name) else { continue };
            let list = id_list(source, ids);
            read.execute_unprepared(&format!(
                "DELETE FROM {t} WHERE {tt} AND id IN ({list})
                   AND id NOT IN (SELECT id FROM {s} WHERE {st} AND id IN ({list}))",
                t = target.table(table.name),
                tt = tenant(target),
                s = source.table(table.name),
                st = tenant(source),
            ))
            .await?;
        }
        read.execute_unprepared(&forget).await?;
        if let Some(sql) = again {
            read.execute_unprepared(&sql).await?;
        }
        read.commit().await?;
        return Ok(entries.len() as u64);
    }
    // Between databases: read in the snapshot, write there, then forget
    // the entries (a crash between the two copies them once more).
    let mut found = Vec::new();
    for table in tables {
        let Some(ids) = by_table.get(table.name) else {
            found.push(None);
            continue;
        };
        let filter = format!("{} AND id IN ({})", tenant(source), id_list(source, ids));
        let rows = rows_as_json(&read, source, table, &filter).await?;
        let present: BTreeSet<Uuid> = read
            .query_all_raw(source.statement(format!("SELECT id FROM {} WHERE {filter}", source.table(table.name))))
            .await?
            .iter()
            .map(|r| r.try_get::<Uuid>("", "id"))
            .collect::<Result<_, _>>()?;
        found.push(Some((rows, ids.difference(&present).copied().collect::<BTreeSet<_>>())));
    }
    read.commit().await?;
    let write = target.begin(true, false).await?;
    for (table, found) in tables.iter().zip(found.iter_mut()) {
        if let Some((rows, _)) = found {
            write_json(&write, target, table, std::mem::take(rows), false).await?;
        }
    }
    for (table, found) in tables.iter().zip(&found).rev() {
        if let Some((_, gone)) = found
            && !gone.is_empty()
        {
            write
                .execute_unprepared(&format!(
                    "DELETE FROM {} WHERE {} AND id IN ({})",
                    target.table(table.name),
                    tenant(target),
                    id_list(target, gone)
                ))
                .await?;
        }
    }
    write.commit().await?;
    let txn = source.begin(true, false).await?;
    txn.execute_unprepared(&forget).await?;
    txn.commit().await?;
    Ok(entries.len() as u64)
}
