use sea_orm::entity::prelude::*;

/// A person's place in a tenant, with their role there.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// `owner`, `admin`, `member` or `viewer`.
    pub role: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::TenantScoped for Entity {
    fn tenant_column() -> Column {
        Column::TenantId
    }
    fn id_column() -> Column {
        Column::UserId
    }
}

/// A person sees their own memberships, in every tenant.
impl crate::UserVisible for Entity {
    fn visible_to_user(user: Uuid) -> sea_orm::sea_query::Condition {
        sea_orm::sea_query::Condition::all().add(Column::UserId.eq(user))
    }
}
