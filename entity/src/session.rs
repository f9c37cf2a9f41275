use sea_orm::entity::prelude::*;

/// A signed-in device: one refresh-token family, acting in one tenant at a time.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    /// Access tokens made in an earlier generation are refused.
    pub generation: i64,
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: DateTimeUtc,
    /// The absolute end of the session, whatever its use.
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoke_reason: Option<String>,
    /// When `generation` or `revoked_at` last changed.
    pub changed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::UserScoped for Entity {
    fn user_column() -> Column {
        Column::UserId
    }
}

/// A tenant may end its members' sessions in it (member removal).
impl crate::TenantScoped for Entity {
    fn tenant_column() -> Column {
        Column::TenantId
    }
    fn id_column() -> Column {
        Column::Id
    }
}
