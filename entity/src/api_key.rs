use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// The first characters of the key, shown to people to tell keys apart.
    pub prefix: String,
    /// HMAC-SHA256 of the whole key under the server secret, hex.
    #[sea_orm(unique)]
    pub key_hash: String,
    /// Space-separated scope names.
    pub scopes: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    /// Who made the key: `user`, `api_key` or `operator`.
    pub created_by_kind: String,
    /// The person or key that made it; `None` for the operator.
    pub created_by_id: Option<Uuid>,
    /// The person its authority comes from (its maker, or the root of the
    /// key that made it); `None` when rooted in the operator.
    pub root_user_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::TenantScoped for Entity {
    fn tenant_column() -> Column {
        Column::TenantId
    }
    fn id_column() -> Column {
        Column::Id
    }
}
