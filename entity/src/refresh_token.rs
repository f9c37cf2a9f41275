use sea_orm::entity::prelude::*;

/// One refresh token of a session's family. Only the newest is current;
/// presenting a rotated one outside the grace window ends the session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// HMAC-SHA256 of the token under the server secret, hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTimeUtc,
    pub rotated_at: Option<DateTimeUtc>,
    /// The replacing token, encrypted under the server secret; cleared after the grace window.
    pub successor_enc: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl crate::UserScoped for Entity {
    fn user_column() -> Column {
        Column::UserId
    }
}
