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
