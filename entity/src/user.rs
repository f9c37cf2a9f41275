use sea_orm::entity::prelude::*;

/// A person. Global: one email, one password, any number of memberships.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Lowercase; unique.
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The tenant of the last login or switch: where a login without a tenant lands.
    pub last_tenant_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::UserScoped for Entity {
    fn user_column() -> Column {
        Column::Id
    }
}

/// A tenant sees the people who are its members (people are global).
impl crate::TenantVisible for Entity {
    fn visible_to_tenant(tenant: Uuid) -> sea_orm::sea_query::Condition {
        let members = sea_orm::sea_query::Query::select()
            .column(super::membership::Column::UserId)
            .from(super::membership::Entity)
            .and_where(super::membership::Column::TenantId.eq(tenant))
            .to_owned();
        sea_orm::sea_query::Condition::all().add(Column::Id.in_subquery(members))
    }
}
