use sea_orm_migration::sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_tenants::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    PasswordHash,
    LastTenantId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    TenantId,
    UserId,
    Role,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    TenantId,
    Generation,
    UserAgent,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    RevokeReason,
    ChangedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    UserId,
    CreatedAt,
    RotatedAt,
    SuccessorEnc,
}

fn fk(
    name: &str,
    from: impl IntoIden,
    col: impl IntoIden,
    to: impl IntoIden,
    to_col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from_tbl(from)
        .from_col(col)
        .to_tbl(to)
        .to_col(to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn index(manager: &SchemaManager<'_>, name: &str, table: impl IntoIden, cols: &[&str]) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(Alias::new(*col));
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid(Users::Id).primary_key())
                    // Stored lowercase; the unique index is the one email rule.
                    .col(text(Users::Email))
                    .col(text(Users::Name))
                    .col(text(Users::PasswordHash))
                    .col(uuid_null(Users::LastTenantId))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_email_key")
                    .table(Users::Table)
                    .col(Users::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(uuid(Memberships::TenantId))
                    .col(uuid(Memberships::UserId))
                    .col(
                        text(Memberships::Role)
                            .check(Expr::col(Memberships::Role).is_in(["owner", "admin", "member", "viewer"])),
                    )
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .col(timestamp_with_time_zone(Memberships::UpdatedAt))
                    .primary_key(Index::create().col(Memberships::TenantId).col(Memberships::UserId))
                    .foreign_key(&mut fk(
                        "memberships_tenant_fk",
                        Memberships::Table,
                        Memberships::TenantId,
                        Tenants::Table,
                        Tenants::Id,
                    ))
                    .foreign_key(&mut fk(
                        "memberships_user_fk",
                        Memberships::Table,
                        Memberships::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        // A person's tenants are listed before any tenant is chosen (login, /me).
        index(
            manager,
            "memberships_user_idx",
            Memberships::Table,
            &["user_id", "tenant_id"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(uuid(Sessions::Id).primary_key())
                    .col(uuid(Sessions::UserId))
                    // The tenant the session currently acts in. No foreign key:
                    // deleting a tenant ends its sessions, and the ended rows
                    // stay (swept a day later) so every instance learns of it.
                    .col(uuid(Sessions::TenantId))
                    // Bumped when the session's access tokens must be re-issued
                    // (role change); tokens carry the generation they were made in.
                    .col(big_integer(Sessions::Generation).default(0))
                    .col(text_null(Sessions::UserAgent))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastUsedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(text_null(Sessions::RevokeReason))
                    // When the generation or revocation last changed: what
                    // other instances poll to refuse stale access tokens.
                    .col(timestamp_with_time_zone(Sessions::ChangedAt))
                    .foreign_key(&mut fk(
                        "sessions_user_fk",
                        Sessions::Table,
                        Sessions::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "sessions_user_created_idx",
            Sessions::Table,
            &["user_id", "created_at", "id"],
        )
        .await?;
        index(
            manager,
            "sessions_tenant_user_idx",
            Sessions::Table,
            &["tenant_id", "user_id"],
        )
        .await?;
        index(manager, "sessions_changed_idx", Sessions::Table, &["changed_at"]).await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    // HMAC of the token under the server secret.
                    .col(text(RefreshTokens::TokenHash).primary_key())
                    .col(uuid(RefreshTokens::SessionId))
                    .col(uuid(RefreshTokens::UserId))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RotatedAt))
                    // The token that replaced this one, encrypted under the
                    // server secret; kept only for the concurrent-refresh grace window.
                    .col(text_null(RefreshTokens::SuccessorEnc))
                    .foreign_key(&mut fk(
                        "refresh_tokens_session_fk",
                        RefreshTokens::Table,
                        RefreshTokens::SessionId,
                        Sessions::Table,
                        Sessions::Id,
                    ))
                    .foreign_key(&mut fk(
                        "refresh_tokens_user_fk",
                        RefreshTokens::Table,
                        RefreshTokens::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "refresh_tokens_session_idx",
            RefreshTokens::Table,
            &["session_id", "created_at"],
        )
        .await?;

        crate::rls::enable(manager, "memberships", "tenant_id").await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            postgres_policies(manager).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            crate::rls::exec(
                manager,
                "DROP POLICY IF EXISTS tenant_member ON tenants;
                 DROP POLICY IF EXISTS member_profile ON users;
                 DROP FUNCTION IF EXISTS tenantry_user_by_email(text);
                 DROP FUNCTION IF EXISTS tenantry_refresh_token_by_hash(text);
                 DROP FUNCTION IF EXISTS tenantry_session_changes_since(timestamptz);
                 DROP FUNCTION IF EXISTS tenantry_free_slug(text);
                 DROP FUNCTION IF EXISTS tenantry_sweep_sessions(timestamptz, timestamptz);",
            )
            .await?;
        }
        for table in [
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Row-level security for user-owned rows, and the narrow `SECURITY DEFINER`
/// functions that answer the questions asked before a user is known.
async fn postgres_policies(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let user = crate::rls::current_user();
    let tenant = crate::rls::current_tenant();
    for (table, column) in [("users", "id"), ("sessions", "user_id"), ("refresh_tokens", "user_id")] {
        crate::rls::exec(
            manager,
            &format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                 CREATE POLICY user_isolation ON {table}
                   USING ({column} = {user}) WITH CHECK ({column} = {user});"
            ),
        )
        .await?;
    }
    crate::rls::exec(
        manager,
        &format!(
            // A person sees their own memberships in every tenant, and the
            // tenants they belong to (login, /me, switching tenants).
            "CREATE POLICY membership_self ON memberships FOR SELECT USING (user_id = {user});
             CREATE POLICY tenant_member ON tenants FOR SELECT USING (
               EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = tenants.id AND m.user_id = {user}));
             -- A tenant sees its members' profiles, and may end their sessions in it.
             CREATE POLICY member_profile ON users FOR SELECT USING (
               EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.tenant_id = {tenant}));
             CREATE POLICY tenant_sessions_read ON sessions FOR SELECT USING (tenant_id = {tenant});
             CREATE POLICY tenant_sessions_end ON sessions FOR UPDATE
               USING (tenant_id = {tenant}) WITH CHECK (tenant_id = {tenant});

             -- The functions below run as the migrating role; under FORCE they
             -- need a policy of their own when that role is not a superuser.
             CREATE POLICY definer_access ON users FOR SELECT TO CURRENT_USER USING (true);
             CREATE POLICY definer_access ON sessions TO CURRENT_USER USING (true);
             CREATE POLICY definer_access ON refresh_tokens TO CURRENT_USER USING (true);

             CREATE FUNCTION tenantry_user_by_email(p_email text)
               RETURNS TABLE (id uuid, password_hash text)
               LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
             AS $$ SELECT u.id, u.password_hash FROM users u WHERE u.email = p_email $$;

             CREATE FUNCTION tenantry_refresh_token_by_hash(p_token_hash text)
               RETURNS TABLE (session_id uuid, user_id uuid)
               LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
             AS $$ SELECT r.session_id, r.user_id FROM refresh_tokens r WHERE r.token_hash = p_token_hash $$;

             CREATE FUNCTION tenantry_session_changes_since(p_since timestamptz)
               RETURNS TABLE (id uuid, generation bigint, revoked boolean, expires_at timestamptz,
                              changed_at timestamptz)
               LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
             AS $$ SELECT s.id, s.generation, s.revoked_at IS NOT NULL, s.expires_at, s.changed_at
                   FROM sessions s WHERE s.changed_at > p_since $$;

             CREATE FUNCTION tenantry_free_slug(p_base text)
               RETURNS text
               LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public
             AS $$
             DECLARE candidate text := p_base; n int := 1;
             BEGIN
               WHILE EXISTS (SELECT 1 FROM tenants t WHERE t.slug = candidate) LOOP
                 n := n + 1;
                 candidate := p_base || '-' || n;
               END LOOP;
               RETURN candidate;
             END $$;

             CREATE FUNCTION tenantry_sweep_sessions(p_now timestamptz, p_grace_cutoff timestamptz)
               RETURNS void
               LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public
             AS $$
               UPDATE refresh_tokens SET successor_enc = NULL
                WHERE successor_enc IS NOT NULL AND rotated_at < p_grace_cutoff;
               DELETE FROM sessions
                WHERE expires_at < p_now - interval '1 day' OR revoked_at < p_now - interval '1 day';
             $$;

             REVOKE ALL ON FUNCTION tenantry_user_by_email(text) FROM PUBLIC;
             REVOKE ALL ON FUNCTION tenantry_refresh_token_by_hash(text) FROM PUBLIC;
             REVOKE ALL ON FUNCTION tenantry_session_changes_since(timestamptz) FROM PUBLIC;
             REVOKE ALL ON FUNCTION tenantry_free_slug(text) FROM PUBLIC;
             REVOKE ALL ON FUNCTION tenantry_sweep_sessions(timestamptz, timestamptz) FROM PUBLIC;"
        ),
    )
    .await
}
