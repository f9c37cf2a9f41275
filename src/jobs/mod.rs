//! The periodic work of a serving instance, in one registry: each job has a
//! name and a period, starts with the server and stops with it. A stop lets
//! a run in progress finish (a batch of key use being written, a sweep)
//! and then ends the loop; the broadcast's listeners, which hold nothing
//! half done, are simply ended.
//!
//! Later jobs (the outbox worker, email and webhook deliveries, key
//! rewrapping, tenant moves) register here the same way.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::AppState;

type Run<S> = Box<dyn Fn(S) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A named piece of periodic work over the state `S`.
pub struct Job<S = AppState> {
    pub name: &'static str,
    pub period: Duration,
    run: Run<S>,
}

impl<S> Job<S> {
    pub fn new<F, Fut>(name: &'static str, period: Duration, run: F) -> Self
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self {
            name,
            period,
            run: Box::new(move |state| Box::pin(run(state))),
        }
    }
}

/// The jobs of a serving instance: key use written in batches, sessions
/// other instances ended, moved tenants' placements read again, signing
/// keys reloaded, idle pools of tenant databases closed, ended sessions
/// swept.
pub fn registry() -> Vec<Job<AppState>> {
    vec![
        Job::new(
            "key-use-flush",
            crate::auth::usage::FLUSH_INTERVAL,
            |state: AppState| async move {
                state.flush_key_usage().await;
            },
        ),
        Job::new(
            "revocation-poll",
            crate::auth::revocation::POLL_INTERVAL,
            |state: AppState| async move {
                state.poll_revocations().await;
            },
        ),
        Job::new(
            "signing-key-reload",
            Duration::from_secs(30),
            |state: AppState| async move {
                if let Err(e) = state.auth.keyring.reload(state.clock.now()) {
                    tracing::warn!(error = %e, "reloading the signing keys failed; keeping the current set");
                }
            },
        ),
        Job::new(
            "placement-poll",
            crate::db::PLACEMENT_POLL,
            |state: AppState| async move {
                match state.db.poll_placements().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(tenants = n, "read the placements of moved tenants again"),
                    Err(e) => tracing::warn!(error = %e, "polling for moved tenants failed"),
                }
            },
        ),
        Job::new(
            "tenant-pool-idle",
            Duration::from_secs(10),
            |state: AppState| async move {
                let closed = state.db.close_idle_tenant_pools(None);
                if closed > 0 {
                    tracing::debug!(closed, "closed idle tenant database pools");
                }
            },
        ),
        Job::new("session-sweep", Duration::from_secs(60), |state: AppState| async move {
            let now = state.clock.now();
            if let Err(e) = state
                .db
                .platform()
                .sweep_sessions(now, now - state.auth.sessions.grace)
                .await
            {
                tracing::warn!(error = %e, "sweeping ended sessions failed");
            }
        }),
    ]
}

/// Running jobs, stopped with [`Jobs::stop`].
pub struct Jobs {
    stop: watch::Sender<bool>,
    loops: Vec<(&'static str, JoinHandle<()>)>,
    listeners: Vec<JoinHandle<()>>,
}

/// With Redis, the broadcast's heartbeat and listener.
pub fn listeners(state: &AppState) -> Vec<JoinHandle<()>> {
    match &state.broadcast {
        Some(broadcast) => {
            let db = state.db.clone();
            let moved: std::sync::Arc<dyn Fn(uuid::Uuid) + Send + Sync> =
                std::sync::Arc::new(move |tenant| db.forget_placement(tenant));
            vec![
                tokio::spawn(broadcast.clone().beat()),
                tokio::spawn(broadcast.clone().listen(state.key_cache.clone(), moved)),
            ]
        }
        None => Vec::new(),
    }
}

impl Jobs {
    /// Starts `jobs` (each runs at once, then every period; a run that
    /// overruns delays the next) beside `listeners`.
    pub fn start<S: Clone + Send + 'static>(state: &S, jobs: Vec<Job<S>>, listeners: Vec<JoinHandle<()>>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let loops = jobs
            .into_iter()
            .map(|job| {
                let state = state.clone();
                let mut stopped = stopped.clone();
                let name = job.name;
                let handle = tokio::spawn(async move {
                    let mut tick = tokio::time::interval(job.period);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            _ = tick.tick() => (job.run)(state.clone()).await,
                            _ = stopped.changed() => break,
                        }
                    }
                });
                (name, handle)
            })
            .collect();
        Self { stop, loops, listeners }
    }

    /// Stops every job, letting a run in progress finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for listener in self.listeners {
            listener.abort();
        }
        for (name, handle) in self.loops {
            if let Err(e) = handle.await {
                tracing::warn!(job = name, error = %e, "a job ended abnormally");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::{Mutex, Notify};

    use super::*;

    #[tokio::test]
    async fn a_stop_lets_the_run_in_progress_finish_and_ends_the_loop() {
        let started = Arc::new(Notify::new());
        let proceed = Arc::new(Notify::new());
        let finished = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(Mutex::new(0u32));
        let job = {
            let (started, proceed, finished, runs) = (started.clone(), proceed.clone(), finished.clone(), runs.clone());
            Job::new("slow", Duration::from_secs(3600), move |()| {
                let (started, proceed, finished, runs) =
                    (started.clone(), proceed.clone(), finished.clone(), runs.clone());
                async move {
                    *runs.lock().await += 1;
                    started.notify_one();
                    proceed.notified().await;
                    finished.store(true, Ordering::SeqCst);
                }
            })
        };
        let jobs = Jobs::start(&(), vec![job], Vec::new());
        started.notified().await;
        let stopping = tokio::spawn(jobs.stop());
        tokio::task::yield_now().await;
        assert!(!stopping.is_finished(), "the stop waits for the run in progress");
        proceed.notify_one();
        stopping.await.expect("the stop completes");
        assert!(finished.load(Ordering::SeqCst), "the run finished");
        assert_eq!(*runs.lock().await, 1, "and no other began");
    }
}
