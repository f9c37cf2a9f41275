use sea_orm::entity::prelude::*;

/// A tenant: the root every tenant-owned row hangs from.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Where the tenant's data lives: `shared`, `schema` or `database`
    /// ([`Placement`]).
    pub placement: String,
    /// Outside the shared tables, where exactly: the schema's name, or the
    /// database's configured name or file. Never a credential.
    pub location: Option<String>,
    /// The last tenant-set migration the tenant's own storage has; none for
    /// a shared tenant (the shared tables' ledger says where they stand).
    pub storage_version: Option<String>,
    /// The error of the last failed migration of its own storage, until one
    /// succeeds.
    pub storage_error: Option<String>,
    /// The tenant's plan: a `[plans.<name>]` of the configuration, whose
    /// request budgets it draws on; none for the default ones.
    pub plan: Option<String>,
}

/// Where a tenant's data lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Rows in the shared tables, beside every other shared tenant's.
    Shared,
    /// A PostgreSQL schema of the tenant's own.
    Schema,
    /// A database (PostgreSQL) or file (SQLite) of the tenant's own.
    Database,
}

impl Placement {
    pub const ALL: [Placement; 3] = [Placement::Shared, Placement::Schema, Placement::Database];

    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Shared => "shared",
            Placement::Schema => "schema",
            Placement::Database => "database",
        }
    }

    pub fn parse(value: &str) -> Option<Placement> {
        Placement::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Model {
    /// The tenant's placement (`None` only for a value the schema's check
    /// refuses).
    pub fn placement(&self) -> Option<Placement> {
        Placement::parse(&self.placement)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A tenant's own row is its tenant scope: its transaction reads, renames
/// and deletes it like any row it owns.
impl crate::TenantScoped for Entity {
    fn tenant_column() -> Column {
        Column::Id
    }
    fn id_column() -> Column {
        Column::Id
    }
}

/// A person sees the tenants they are a member of.
impl crate::UserVisible for Entity {
    fn visible_to_user(user: Uuid) -> sea_orm::sea_query::Condition {
        let tenants = sea_orm::sea_query::Query::select()
            .column(super::membership::Column::TenantId)
            .from(super::membership::Entity)
            .and_where(super::membership::Column::UserId.eq(user))
            .to_owned();
        sea_orm::sea_query::Condition::all().add(Column::Id.in_subquery(tenants))
    }
}
