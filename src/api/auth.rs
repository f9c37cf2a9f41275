//! People: sign-up, sign-in, refresh, sessions and the signed-in person.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use secrecy::SecretString;
use uuid::Uuid;

use super::gate::json_body;
use super::rate::Anonymous;
use super::security::PersonAuth;
use super::tenant::TenantOut;
use super::types::{Email, Text, omittable};
use super::{ApiTags, NoContent};
use crate::access::Role;
use crate::app::AppState;
use crate::auth::{self, sign_in};
use crate::domain::accounts::{self, Membership, User};
use crate::domain::people::{self, Ending};
use crate::domain::sessions::{self, Session};
use crate::domain::tenants;
use crate::domain::{self, Violations};
use crate::error::{ApiError, ApiResult, statuses};

/// A member's role in a tenant. Viewers read; members also write projects
/// and tasks; admins also manage members and API keys; owners also manage the
/// tenant itself.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "Role", rename_all = "lowercase")]
pub enum RoleOut {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl From<Role> for RoleOut {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
            Role::Viewer => Self::Viewer,
        }
    }
}

/// A person.
#[derive(Object, Debug)]
#[oai(rename = "User")]
pub struct UserOut {
    /// The person's id.
    pub id: Uuid,
    /// Their email address, lowercase.
    pub email: String,
    /// Their display name.
    pub name: String,
    /// When they signed up (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            created_at: u.created_at,
        }
    }
}

/// A signed-in session: an access token for the API and a refresh token to
/// get the next one.
#[derive(Object, Debug)]
#[oai(rename = "AuthSession")]
pub struct AuthSessionOut {
    /// Send as `Authorization: Bearer <access_token>`. A signed JWT naming
    /// the person, the tenant, the role and the session.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires (at most 900).
    pub expires_in: i64,
    /// Single use: exchange it at `/v1/auth/refresh` for a new pair. Keep it
    /// secret; presenting an already used one ends the session.
    pub refresh_token: String,
    /// The session's id (see `/v1/auth/sessions`).
    pub session_id: Uuid,
    pub user: UserOut,
    pub tenant: TenantOut,
    pub role: RoleOut,
}

/// Sign-up details.
#[derive(Object, Debug)]
#[oai(rename = "SignupIn", deny_unknown_fields, example)]
pub struct SignupIn {
    /// The person's email address; stored lowercase, unique.
    pub email: Email,
    /// 10 to 1,024 characters, not a common or easily guessed one.
    pub password: Text<{ crate::auth::password::MIN_PASSWORD_CHARS }, { crate::auth::password::MAX_PASSWORD_CHARS }>,
    /// The person's display name, 1 to 200 characters.
    pub name: Text<1, { accounts::NAME_MAX }>,
    /// The new tenant's display name, 1 to 200 characters.
    pub tenant_name: Text<1, { tenants::NAME_MAX }>,
    /// The new tenant's slug (lowercase letters, digits and inner hyphens);
    /// default: made from `tenant_name`, with a numeric suffix when taken.
    /// May be omitted, not `null`.
    pub tenant_slug: MaybeUndefined<Text<{ tenants::SLUG_MIN }, { tenants::SLUG_MAX }>>,
}

impl Example for SignupIn {
    fn example() -> Self {
        Self {
            email: "ada@example.com".into(),
            password: "correct-horse-battery-staple".into(),
            name: "Ada Lovelace".into(),
            tenant_name: "Analytical Engines".into(),
            tenant_slug: MaybeUndefined::Undefined,
        }
    }
}

/// Sign-in details.
#[derive(Object, Debug)]
#[oai(rename = "LoginIn", deny_unknown_fields, example)]
pub struct LoginIn {
    /// The person's email address (any case).
    pub email: Email,
    /// Their password (every password is 10 to 1,024 characters).
    pub password: Text<{ crate::auth::password::MIN_PASSWORD_CHARS }, { crate::auth::password::MAX_PASSWORD_CHARS }>,
    /// The tenant to act in, by id or slug; default: the last one used. May
    /// be omitted, not `null`.
    pub tenant: MaybeUndefined<Text<1, TENANT_REF_MAX>>,
}

impl Example for LoginIn {
    fn example() -> Self {
        Self {
            email: "ada@example.com".into(),
            password: "correct-horse-battery-staple".into(),
            tenant: MaybeUndefined::Value("analytical-engines".into()),
        }
    }
}

/// A refresh token to exchange.
#[derive(Object, Debug)]
#[oai(rename = "RefreshIn", deny_unknown_fields, example)]
pub struct RefreshIn {
    /// The `refresh_token` of the last sign-in or refresh.
    pub refresh_token: Text<1, { auth::refresh_token::MAX_LEN }>,
}

impl Example for RefreshIn {
    fn example() -> Self {
        Self {
            refresh_token: "tnr_hqbMwW9g4Vp0m3iJ7Hc0w2e0mX8m2yq9b5b2Zr1s4uU".into(),
        }
    }
}

/// A password change.
#[derive(Object, Debug)]
#[oai(rename = "PasswordChangeIn", deny_unknown_fields, example)]
pub struct PasswordChangeIn {
    /// The password in use now (every password is 10 to 1,024 characters).
    pub current_password:
        Text<{ crate::auth::password::MIN_PASSWORD_CHARS }, { crate::auth::password::MAX_PASSWORD_CHARS }>,
    /// The new password: 10 to 1,024 characters, not a common or easily guessed one.
    pub new_password:
        Text<{ crate::auth::password::MIN_PASSWORD_CHARS }, { crate::auth::password::MAX_PASSWORD_CHARS }>,
}

impl Example for PasswordChangeIn {
    fn example() -> Self {
        Self {
            current_password: "correct-horse-battery-staple".into(),
            new_password: "a-longer-and-better-passphrase-42".into(),
        }
    }
}

/// The tenant to switch to.
#[derive(Object, Debug)]
#[oai(rename = "SwitchTenantIn", deny_unknown_fields, example)]
pub struct SwitchTenantIn {
    /// A tenant the person belongs to, by id or slug.
    pub tenant: Text<1, TENANT_REF_MAX>,
}

impl Example for SwitchTenantIn {
    fn example() -> Self {
        Self {
            tenant: "analytical-engines".into(),
        }
    }
}

/// A signed-in device.
#[derive(Object, Debug)]
#[oai(rename = "Session")]
pub struct SessionOut {
    /// The session's id.
    pub id: Uuid,
    /// The tenant the session acts in.
    pub tenant_id: Uuid,
    /// The `User-Agent` it signed in with, if any (at most 512 characters).
    #[oai(nullable)]
    pub user_agent: super::types::Nullable<String>,
    /// When it signed in (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last used (RFC 3339, UTC).
    pub last_used_at: DateTime<Utc>,
    /// When it ends, however used (RFC 3339, UTC).
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

fn session_out(s: Session, current: Option<Uuid>) -> SessionOut {
    SessionOut {
        current: Some(s.id) == current,
        id: s.id,
        tenant_id: s.tenant_id,
        user_agent: s.user_agent.into(),
        created_at: s.created_at,
        last_used_at: s.last_used_at,
        expires_at: s.expires_at,
    }
}

/// The person's live sessions, newest first (at most 100).
#[derive(Object, Debug)]
#[oai(rename = "SessionList")]
pub struct SessionListOut {
    /// The sessions.
    pub items: Vec<SessionOut>,
}

/// One of the person's memberships.
#[derive(Object, Debug)]
#[oai(rename = "Membership")]
pub struct MembershipOut {
    pub tenant: TenantOut,
    pub role: RoleOut,
    /// When they joined the tenant (RFC 3339, UTC).
    pub joined_at: DateTime<Utc>,
}

impl From<Membership> for MembershipOut {
    fn from(m: Membership) -> Self {
        Self {
            tenant: m.tenant.into(),
            role: m.role.into(),
            joined_at: m.joined_at,
        }
    }
}

/// The signed-in person, their memberships and the current session.
#[derive(Object, Debug)]
#[oai(rename = "Me")]
pub struct MeOut {
    pub user: UserOut,
    /// Every tenant they belong to, oldest membership first.
    pub memberships: Vec<MembershipOut>,
    /// The tenant the access token acts in.
    pub tenant_id: Uuid,
    /// The session the access token belongs to.
    pub session_id: Uuid,
}

#[derive(ApiResponse, Debug)]
pub enum SignedUp {
    /// The person, their tenant and a session were created.
    #[oai(status = 201)]
    Created(Json<AuthSessionOut>),
}

/// A public operation with a JSON body.
const PUBLIC_WRITE: u16 =
    statuses::BASE | statuses::BAD_REQUEST | statuses::TOO_LARGE | statuses::MEDIA_TYPE | statuses::UNPROCESSABLE;
const SIGNUP: u16 = PUBLIC_WRITE | statuses::CONFLICT | statuses::TOO_MANY;
const LOGIN: u16 =
    PUBLIC_WRITE | statuses::UNAUTHORIZED | statuses::FORBIDDEN | statuses::NOT_FOUND | statuses::TOO_MANY;
const REFRESH: u16 = PUBLIC_WRITE | statuses::UNAUTHORIZED;
const SESSION: u16 = statuses::AUTHENTICATED | statuses::FORBIDDEN;

fn user_agent(req: &Request) -> Option<&str> {
    req.headers()
        .get(poem::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

fn client_ip(state: &AppState, req: &Request) -> Option<std::net::IpAddr> {
    super::rate::client_ip(req, &state.rates.trusted_proxies)
}

fn required(v: &mut Violations, field: &str, value: Option<String>) -> String {
    if value.is_none() {
        v.push(field, "required", "is required");
    }
    value.unwrap_or_default()
}

/// A password as every operation takes one: required, and within the
/// character rule (`auth::password::check_chars`), checked before any
/// hashing or throttling. `None` when it breaks either (reported in `v`).
fn password_field(v: &mut Violations, field: &str, value: Option<String>) -> Option<String> {
    let Some(password) = value else {
        v.push(field, "required", "is required");
        return None;
    };
    match auth::password::check_chars(&password) {
        Ok(()) => Some(password),
        Err(p) => {
            v.push(field, p.code, p.message);
            None
        }
    }
}

/// The longest tenant reference (a slug, or an id's 36 characters).
const TENANT_REF_MAX: usize = tenants::SLUG_MAX;

/// Issues an access token for `session` and wraps it with the refresh token.
fn session_response(
    state: &AppState,
    session: &Session,
    refresh_token: String,
    user: User,
    membership: Membership,
) -> Result<AuthSessionOut, ApiError> {
    let now = state.clock.now();
    let (access_token, expires_at) = people::issue_access_token(&state.auth, session, membership.role, now)?;
    Ok(AuthSessionOut {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: (expires_at - now).num_seconds(),
        refresh_token,
        session_id: session.id,
        user: user.into(),
        tenant: membership.tenant.into(),
        role: membership.role.into(),
    })
}

pub struct AuthApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Sign up
    ///
    /// Creates a person, a tenant they own and a session. An email already
    /// signed up is a 409.
    #[oai(
        path = "/auth/signup",
        method = "post",
        operation_id = "signup",
        transform = "json_body"
    )]
    async fn signup(
        &self,
        _limit: Anonymous,
        state: Data<&AppState>,
        req: &Request,
        body: Json<SignupIn>,
    ) -> ApiResult<SignedUp, SIGNUP> {
        let body = body.0;
        let mut v = Violations::default();
        let email = required(&mut v, "email", body.email.0);
        let password = password_field(&mut v, "password", body.password.0);
        let name = required(&mut v, "name", body.name.0);
        let tenant_name = required(&mut v, "tenant_name", body.tenant_name.0);
        let tenant_slug = omittable(&mut v, "tenant_slug", body.tenant_slug).and_then(|s| s.0);
        let signup = accounts::validate_signup(&mut v, &email, &name, &tenant_name, tenant_slug.as_deref());
        if let Some(password) = &password {
            let local = signup.email.split('@').next().unwrap_or_default();
            if let Err(p) = auth::password::check_policy(password, &[&signup.email, local, &signup.name]) {
                v.push("password", p.code, p.message);
            }
        }
        v.finish()?;
        let created = people::signup(
            &state.people(),
            accounts::valid_signup(signup),
            SecretString::from(password.unwrap_or_default()),
            user_agent(req),
            client_ip(&state, req),
        )
        .await?;
        let (session, refresh_token, user, membership) = created;
        Ok(SignedUp::Created(Json(session_response(
            &state,
            &session,
            refresh_token,
            user,
            membership,
        )?)))
    }

    /// Sign in
    ///
    /// Exchanges an email and password for a session in one of the person's
    /// tenants. A wrong email and a wrong password get the same answer.
    /// Repeated failures are slowed down with a 429 and `Retry-After`.
    #[oai(
        path = "/auth/login",
        method = "post",
        operation_id = "login",
        transform = "json_body"
    )]
    async fn login(
        &self,
        _limit: Anonymous,
        state: Data<&AppState>,
        req: &Request,
        body: Json<LoginIn>,
    ) -> ApiResult<Json<AuthSessionOut>, LOGIN> {
        let body = body.0;
        let mut v = Violations::default();
        let email = match body.email.0 {
            Some(email) => accounts::normalize_email(&mut v, "email", &email),
            None => required(&mut v, "email", None),
        };
        let password = password_field(&mut v, "password", body.password.0);
        let tenant = omittable(&mut v, "tenant", body.tenant).and_then(|t| t.0);
        if let Some(tenant) = &tenant {
            v.text("tenant", tenant, 1, TENANT_REF_MAX);
        }
        v.finish()?;
        let password = SecretString::from(password.unwrap_or_default());
        let grant = sign_in::verify_password(
            &state.auth,
            &state.db.platform(),
            &email,
            &password,
            client_ip(&state, req),
            state.clock.now(),
        )
        .await
        .map_err(domain::Error::from)?;
        let started = people::start_session(&state.people(), &grant, tenant.as_deref(), user_agent(req)).await?;
        let (session, refresh_token, user, membership) = state.apply(started).await;
        Ok(Json(session_response(
            &state,
            &session,
            refresh_token,
            user,
            membership,
        )?))
    }

    /// Refresh a session
    ///
    /// Exchanges a refresh token for a new access token and a new refresh
    /// token; the old one stops working. Presenting a used refresh token
    /// ends the session, except within 10 seconds of its use (two tabs
    /// refreshing at once both get the same new pair).
    #[oai(
        path = "/auth/refresh",
        method = "post",
        operation_id = "refresh_session",
        transform = "json_body"
    )]
    async fn refresh_session(
        &self,
        _limit: Anonymous,
        state: Data<&AppState>,
        body: Json<RefreshIn>,
    ) -> ApiResult<Json<AuthSessionOut>, REFRESH> {
        let mut v = Violations::default();
        let token = v
            .required_text(
                "refresh_token",
                body.0.refresh_token.0.as_deref(),
                1,
                auth::refresh_token::MAX_LEN,
            )
            .unwrap_or_default()
            .to_owned();
        v.finish()?;
        let refreshed = people::refresh(&state.people(), &token).await?;
        let (session, refresh_token, user, membership) = state.apply(refreshed).await?;
        Ok(Json(session_response(
            &state,
            &session,
            refresh_token,
            user,
            membership,
        )?))
    }

    /// Sign out
    ///
    /// Ends the session of the access token: its refresh token stops working
    /// and its access tokens are refused from now on. Open to every signed-in person.
    #[oai(path = "/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, auth: PersonAuth, state: Data<&AppState>) -> ApiResult<NoContent, SESSION> {
        let grant = auth.0.person()?;
        let ended = people::end_sessions(&state.people(), &grant, Ending::Current).await?;
        state.apply(ended).await;
        Ok(NoContent::NoContent)
    }

    /// List sessions
    ///
    /// The signed-in person's live sessions on every device, newest first. Open to every signed-in person.
    #[oai(path = "/auth/sessions", method = "get", operation_id = "list_sessions")]
    async fn list_sessions(
        &self,
        auth: PersonAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<SessionListOut>, SESSION> {
        let grant = auth.0.person()?;
        let tx = state.db.for_user(&grant).read().await?;
        let items = sessions::list(&tx, &state.auth.sessions, state.clock.now()).await?;
        tx.commit().await?;
        Ok(Json(SessionListOut {
            items: items.into_iter().map(|s| session_out(s, grant.session())).collect(),
        }))
    }

    /// End a session
    ///
    /// Signs one of the person's devices out. Another person's session is a 404. Open to every signed-in person.
    #[oai(path = "/auth/sessions/:id", method = "delete", operation_id = "delete_session")]
    async fn delete_session(
        &self,
        auth: PersonAuth,
        state: Data<&AppState>,
        /// The session's id.
        id: Path<Uuid>,
    ) -> ApiResult<NoContent, { SESSION | statuses::BAD_REQUEST | statuses::NOT_FOUND }> {
        let grant = auth.0.person()?;
        let ended = people::end_sessions(&state.people(), &grant, Ending::One(id.0)).await?;
        state.apply(ended).await;
        Ok(NoContent::NoContent)
    }

    /// End every other session
    ///
    /// Signs the person out everywhere but the session making the request. Open to every signed-in person.
    #[oai(
        path = "/auth/sessions/revoke-others",
        method = "post",
        operation_id = "revoke_other_sessions"
    )]
    async fn revoke_other_sessions(&self, auth: PersonAuth, state: Data<&AppState>) -> ApiResult<NoContent, SESSION> {
        let grant = auth.0.person()?;
        let ended = people::end_sessions(&state.people(), &grant, Ending::AllButCurrent).await?;
        state.apply(ended).await;
        Ok(NoContent::NoContent)
    }

    /// Change the password
    ///
    /// Needs the current password (a wrong one is a 403, and counts toward
    /// the sign-in throttle). Every other session of the person ends; this one
    /// stays signed in. Open to every signed-in person.
    #[oai(
        path = "/auth/password",
        method = "post",
        operation_id = "change_password",
        transform = "json_body"
    )]
    async fn change_password(
        &self,
        auth: PersonAuth,
        state: Data<&AppState>,
        req: &Request,
        body: Json<PasswordChangeIn>,
    ) -> ApiResult<NoContent, { statuses::WRITE | statuses::TOO_MANY }> {
        let grant = auth.0.person()?;
        let mut v = Violations::default();
        let current = password_field(&mut v, "current_password", body.0.current_password.0).unwrap_or_default();
        let new = password_field(&mut v, "new_password", body.0.new_password.0).unwrap_or_default();
        v.finish()?;
        let changed = people::change_password(
            &state.people(),
            &grant,
            &SecretString::from(current),
            SecretString::from(new),
            client_ip(&state, req),
        )
        .await?;
        state.apply(changed).await;
        Ok(NoContent::NoContent)
    }

    /// Switch tenants
    ///
    /// Moves the session to another tenant the person belongs to (`tenant`:
    /// an id or a slug) and returns a new pair; access tokens for the previous
    /// tenant are refused from now on. A tenant they do not belong to is a 404. Open to every signed-in person.
    #[oai(
        path = "/auth/switch-tenant",
        method = "post",
        operation_id = "switch_tenant",
        transform = "json_body"
    )]
    async fn switch_tenant(
        &self,
        auth: PersonAuth,
        state: Data<&AppState>,
        body: Json<SwitchTenantIn>,
    ) -> ApiResult<Json<AuthSessionOut>, { statuses::WRITE | statuses::NOT_FOUND }> {
        let grant = auth.0.person()?;
        let mut v = Violations::default();
        let tenant = v
            .required_text("tenant", body.0.tenant.0.as_deref(), 1, TENANT_REF_MAX)
            .unwrap_or_default()
            .to_owned();
        v.finish()?;
        let switched = people::switch_tenant(&state.people(), &grant, &tenant).await?;
        let (session, refresh_token, user, membership) = state.apply(switched).await;
        Ok(Json(session_response(
            &state,
            &session,
            refresh_token,
            user,
            membership,
        )?))
    }

    /// The signed-in person
    ///
    /// Their profile, every tenant they belong to with their role there, and
    /// the tenant and session of the access token. Open to every signed-in person.
    #[oai(path = "/me", method = "get", operation_id = "get_me")]
    async fn get_me(&self, auth: PersonAuth, state: Data<&AppState>) -> ApiResult<Json<MeOut>, SESSION> {
        let grant = auth.0.person()?;
        let tx = state.db.for_user(&grant).read().await?;
        let (user, memberships) = accounts::me(&tx).await?;
        tx.commit().await?;
        Ok(Json(MeOut {
            user: user.into(),
            memberships: memberships.into_iter().map(Into::into).collect(),
            tenant_id: auth.0.tenant_id().0,
            session_id: grant.session().unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules_apply_to_signup_slugs() {
        let mut v = Violations::default();
        accounts::validate_signup(&mut v, "a@example.com", "A", "T", Some("X"));
        let err = v.finish().expect_err("a one-letter slug is refused");
        let crate::domain::Error::Invalid(list) = err else {
            panic!("validation error expected");
        };
        assert_eq!(list[0].field, "tenant_slug");
    }
}
