//! The security schemes: how a request's credential is read and handed to
//! `auth` for a [`Principal`], whose tenant's request budget it then spends
//! (`rate`: 401 before 429). [`Auth`] is the security argument of every
//! tenant operation (either credential; the spec lists both schemes as
//! alternatives), [`PersonAuth`] of those only people may call.

use poem::{Request, RequestBody};
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Bearer};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use crate::access::Principal;
use crate::app::AppState;
use crate::auth::{self, KeyCheck};
use crate::error::{ApiError, ErrorCode};

fn state(req: &Request) -> Result<&AppState, ApiError> {
    req.data::<AppState>()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "application state missing"))
}

/// An API key in the `X-API-Key` header. Keys look like `tnt_` followed by
/// 30 letters and digits; each is bound to one tenant and carries scopes.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-Key", key_in = "header", checker = "check_api_key")]
pub struct ApiKeyAuth(pub Principal);

async fn check_api_key(req: &Request, key: ApiKey) -> poem::Result<Principal> {
    single_credential(req)?;
    let state = state(req)?;
    let check = KeyCheck {
        keys: &state.keys,
        cache: &state.key_cache,
        db: &state.db,
        usage: &state.key_usage,
    };
    let principal = auth::authenticate(&check, &key.key, state.clock.now())
        .await
        .map_err(ApiError::from)?;
    super::rate::limit_tenant(req, state, &principal).await?;
    super::idempotency::bind(req, state, &principal)?;
    Ok(principal)
}

/// An access token (a JWT from `/v1/auth/login`, `/signup` or `/refresh`)
/// in `Authorization: Bearer`. It names a person, a tenant, their role there
/// and a session; lifetime at most 15 minutes.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Principal);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    single_credential(req)?;
    let state = state(req)?;
    let principal = auth::authenticate_bearer(&state.auth, &bearer.token, state.clock.now()).map_err(ApiError::from)?;
    super::rate::limit_tenant(req, state, &principal).await?;
    super::idempotency::bind(req, state, &principal)?;
    Ok(principal)
}

/// An API key (`X-API-Key`) or a person's access token (`Authorization:
/// Bearer`), turned into a tenant-bound principal.
pub struct Auth(pub Principal);

impl<'a> ApiExtractor<'a> for Auth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <ApiKeyAuth as ApiExtractor>::register(registry);
        <BearerAuth as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = <ApiKeyAuth as ApiExtractor>::security_schemes();
        schemes.extend(<BearerAuth as ApiExtractor>::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        single_credential(req)?;
        let has_key = req.headers().contains_key("x-api-key");
        let has_bearer = req.headers().contains_key(poem::http::header::AUTHORIZATION);
        match (has_key, has_bearer) {
            (true, true) => Err(ApiError::bad_request(
                "send one credential: either `X-API-Key` or `Authorization: Bearer`, not both",
            )
            .into()),
            (false, true) => {
                let BearerAuth(principal) =
                    <BearerAuth as ApiExtractor>::from_request(req, body, ExtractParamOptions::default()).await?;
                Ok(Self(principal))
            }
            _ => {
                let ApiKeyAuth(principal) =
                    <ApiKeyAuth as ApiExtractor>::from_request(req, body, ExtractParamOptions::default()).await?;
                Ok(Self(principal))
            }
        }
    }
}

/// A person's access token (`Authorization: Bearer`), for the operations
/// only people may call: [`BearerAuth`] behind the same one-header rule as
/// [`Auth`], checked before the header is read.
pub struct PersonAuth(pub Principal);

impl<'a> ApiExtractor<'a> for PersonAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <BearerAuth as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        <BearerAuth as ApiExtractor>::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        single_credential(req)?;
        let BearerAuth(principal) =
            <BearerAuth as ApiExtractor>::from_request(req, body, ExtractParamOptions::default()).await?;
        Ok(Self(principal))
    }
}

/// Refuses a request with more than one `X-API-Key` or `Authorization`
/// header (400): a proxy in front and this server could each read a
/// different one, and so disagree on who is calling.
pub fn single_credential(req: &Request) -> Result<(), ApiError> {
    for name in ["x-api-key", "authorization"] {
        if req.headers().get_all(name).iter().nth(1).is_some() {
            let shown = if name == "x-api-key" {
                "X-API-Key"
            } else {
                "Authorization"
            };
            return Err(ApiError::bad_request(format!(
                "send the `{shown}` header once; this request has several"
            )));
        }
    }
    Ok(())
}
