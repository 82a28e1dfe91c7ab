//! The bound on store work at once on a PostgreSQL store (`--pg-pool N`).
//!
//! Every request that reads or writes the database (a triage or photo write, a
//! photo, chip or report read, a snapshot reload) runs on a blocking thread while
//! it holds one of N permits; each such task opens at most two connections (the
//! `postgres` client for locks and triage, GDAL's for the tables), so one server
//! holds at most 2·N + 2 connections (plus the LISTEN connection and the poll's).
//! A request that waits longer than `--pg-pool-wait-ms` for a permit gets a 503
//! with `Retry-After` ([`ApiError::Busy`]); reads served from the in-memory
//! snapshot (features, statistics) take no permit and are never refused.
//! On a GeoPackage store there is no bound (SQLite has no connections to run out of).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Permits for store work (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct StorePool {
    /// None: unbounded (a GeoPackage store, an in-memory snapshot).
    sem: Option<Arc<Semaphore>>,
    size: usize,
    wait: Duration,
}

impl StorePool {
    /// No bound.
    pub fn unbounded() -> StorePool {
        StorePool::default()
    }

    /// At most `size` tasks at once; a request waits at most `wait` for its turn.
    pub fn new(size: usize, wait: Duration) -> StorePool {
        StorePool {
            sem: Some(Arc::new(Semaphore::new(size.max(1)))),
            size: size.max(1),
            wait,
        }
    }

    /// Permits free now (all of them when unbounded: `None`).
    pub fn available(&self) -> Option<usize> {
        self.sem.as_ref().map(|s| s.available_permits())
    }

    /// Runs `f` on a blocking thread while holding a permit; `what` names the work
    /// in errors. Busy (503, Retry-After) when no permit frees within the wait.
    pub async fn run<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = match &self.sem {
            None => None,
            Some(s) => match tokio::time::timeout(self.wait, s.clone().acquire_owned()).await {
                Ok(Ok(p)) => Some(p),
                Ok(Err(_)) => return Err(ApiError::Store("the store pool is closed".into())),
                Err(_) => {
                    tracing::warn!(
                        size = self.size,
                        wait_ms = self.wait.as_millis() as u64,
                        "store pool exhausted: {what} refused with 503"
                    );
                    return Err(ApiError::Busy(format!(
                        "the server is busy: all {} of its database connections are in use \
                         (waited {} ms for one to {what}); try again shortly",
                        self.size,
                        self.wait.as_millis()
                    )));
                }
            },
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| ApiError::Store(format!("{what}: task failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_pool_refuses_after_the_wait_and_frees_on_completion() {
        let p = StorePool::new(1, Duration::from_millis(50));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let p2 = p.clone();
        let held = tokio::spawn(async move { p2.run("hold", move || rx.recv().is_ok()).await });
        while p.available() != Some(0) {
            tokio::task::yield_now().await;
        }
        let t0 = std::time::Instant::now();
        let e = p.run("read", || 1).await.unwrap_err();
        assert!(matches!(e, ApiError::Busy(_)), "{e}");
        assert!(t0.elapsed() >= Duration::from_millis(50));
        assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        tx.send(()).unwrap();
        assert!(held.await.unwrap().unwrap());
        assert_eq!(p.run("read", || 2).await.unwrap(), 2);
        assert_eq!(p.available(), Some(1));
        assert_eq!(StorePool::unbounded().run("x", || 3).await.unwrap(), 3);
    }
}
