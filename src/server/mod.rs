//! The server: the route tree with its middleware, the listener, and the
//! run loop with graceful shutdown.

mod etag;
mod headers;
mod idempotency;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::CatchPanic;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, Route, Server, get};

use headers::{Contract, ResponseHeaders};

use crate::app::AppState;
use crate::auth::AuthState;
use crate::auth::throttle::LoginThrottle;
use crate::auth::usage::KeyUsage;
use crate::cache::keys::KeyCache;
use crate::cache::{Broadcast, Shared};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::db::{Db, DbError};
use crate::error::{panic_response, to_problem};
use crate::secret::{Keys, SecretError};

/// The whole HTTP surface.
pub fn build_route(state: AppState) -> impl Endpoint {
    let api = crate::openapi::service();
    let raw = api.spec();
    let spec = crate::openapi::refined(&raw);
    let contract = Arc::new(Contract::from_spec(&spec));
    let spec_text = crate::openapi::to_text(&spec);
    // The viewer embeds the document: the refined one, not poem-openapi's
    // (tests/api/errors.rs checks that /docs shows the refined one).
    let docs = Html(api.swagger_ui_html().replace(&raw, &spec_text));
    let route = Route::new()
        .nest("/", api)
        .nest("/docs", Route::new().at("/", get(make_sync(move |_| docs.clone()))))
        .at(
            "/openapi.json",
            get(make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(spec_text.clone())
            })),
        );
    #[cfg(feature = "bench")]
    let route = route.nest("/bench", crate::bench::routes());
    route
        .with(etag::Etags)
        .with(idempotency::Idempotency(contract.clone()))
        .data(state)
        .catch_all_error(to_problem)
        .with(ResponseHeaders(contract))
        .with(CatchPanic::new().with_handler(panic_response))
        .with(crate::telemetry::RequestSpan)
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("REDIS_URL: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("access-token signing keys: {0}")]
    Keys(#[from] crate::auth::jwt::KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
}

/// A bound, ready-to-run server.
pub struct Application {
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    state: AppState,
}

impl Application {
    /// Migrates (unless disabled), connects as the serving role and binds `listen`
    /// (port 0 picks a free port).
    pub async fn build(settings: &Settings, listen: SocketAddr, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let secret = crate::secret::load_or_create(settings)?;
        if settings.database.auto_migrate {
            let owner = Db::connect_owner(settings).await?;
            owner.migrate(&settings.database.app_role).await?;
            // Then every tenant with storage of its own; one that fails is
            // logged and refused (503) until it is migrated, the others
            // are served.
            let fleet = owner.migrate_fleet(crate::db::FleetOptions::default(), &|_| {}).await;
            owner.close().await;
            let fleet = fleet?;
            if fleet.behind > 0 {
                tracing::info!(
                    migrated = fleet.migrated,
                    failed = fleet.failed.len(),
                    "migrated the tenants with storage of their own"
                );
            }
        }
        let db = Db::connect_app(settings).await?;
        let keys = Arc::new(Keys::from_secret(&secret));
        let (broadcast, shared) = match &settings.redis.url {
            Some(url) => {
                let url = secrecy::ExposeSecret::expose_secret(url);
                (
                    Some(Arc::new(Broadcast::new(
                        url,
                        &settings.redis.prefix,
                        settings.auth.key_cache_ttl,
                    )?)),
                    Some(Arc::new(Shared::new(url, &settings.redis.prefix)?)),
                )
            }
            None => (None, None),
        };
        let limiter = match &shared {
            Some(shared) => crate::cache::Limiter::shared(shared.clone()),
            None => crate::cache::Limiter::local(),
        };
        let throttle = LoginThrottle::on(keys.login_throttle.clone(), shared);
        let state = AppState {
            db,
            keys,
            clock: clock.clone(),
            key_usage: Arc::new(KeyUsage::default()),
            key_cache: Arc::new(KeyCache::new(settings.auth.key_cache_ttl)),
            broadcast,
            auth: Arc::new(AuthState::from_settings(settings, throttle, clock.now())?),
            max_body_bytes: settings.limits.max_body_bytes,
            rates: Arc::new(crate::app::Rates::from_settings(settings, limiter)),
        };
        let acceptor = TcpListener::bind(listen)
            .into_acceptor()
            .await
            .map_err(|source| StartError::Bind {
                addr: listen.to_string(),
                source,
            })?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .unwrap_or(listen);
        Ok(Self { acceptor, addr, state })
    }

    pub async fn build_default(settings: &Settings, listen: SocketAddr) -> Result<Self, StartError> {
        Self::build(settings, listen, Arc::new(SystemClock)).await
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains requests (up to 10 s),
    /// flushes batched key use and closes the pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let state = self.state.clone();
        let jobs = crate::jobs::Jobs::start(&state, crate::jobs::registry(), crate::jobs::listeners(&state));
        {
            // The dummy hash for unknown emails, made before the first login needs it.
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(e) = state.auth.passwords.warm_up().await {
                    tracing::warn!(error = %e, "preparing the password hasher failed");
                }
            });
        }
        tracing::info!(addr = %self.addr, "serving");
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(build_route(state.clone()), shutdown, Some(Duration::from_secs(10)))
            .await;
        jobs.stop().await;
        state.flush_key_usage().await;
        state.db.clone().close().await;
        result
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
