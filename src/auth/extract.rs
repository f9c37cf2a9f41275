//! [`Auth`]: the security argument of every tenant operation. It accepts
//! either credential, and the spec lists both schemes as alternatives.

use poem::{Request, RequestBody};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::{ApiKeyAuth, BearerAuth};
use crate::access::Principal;
use crate::error::ApiError;

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
pub(super) fn single_credential(req: &Request) -> Result<(), ApiError> {
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
