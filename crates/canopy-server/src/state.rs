//! The shared state of the server and hot reload of the store.
//!
//! `canopy run` writes a complete new GeoPackage and renames it over the store;
//! `canopy triage` (and this server) append to it in place, in SQLite transactions.
//! Either changes the file's identity ([`Stamp`]: device, inode, mtime, size and
//! SQLite's change counter). A cheap
//! poll (one `stat` per interval) notices it, reads a new [`Snapshot`] on a blocking
//! thread and swaps it in with `arc-swap`: requests in flight keep the snapshot they
//! started with, new ones get the new one, and none ever sees a half-read store. A
//! read that fails (say, the file is being written) keeps the old snapshot and is
//! retried at the next poll.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use crate::auth::Tokens;
use crate::error::ApiError;
use crate::snapshot::{Snapshot, Stamp};

/// Server settings that handlers need.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Base of every link (`https://example.org/canopy`); else from the Host header.
    pub public_url: Option<String>,
    /// Reads need a token too.
    pub private_reads: bool,
}

/// What every handler gets.
#[derive(Debug)]
pub struct AppState {
    /// The store file (none for an in-memory snapshot: no reload, no writes).
    pub store: Option<PathBuf>,
    snap: ArcSwap<Snapshot>,
    pub tokens: Tokens,
    pub settings: Settings,
    /// Serializes reloads and triage writes.
    pub write_lock: tokio::sync::Mutex<()>,
    /// The bound on database work at once (PostgreSQL stores; `--pg-pool`).
    pub pool: crate::pool::StorePool,
}

impl AppState {
    /// State over a store file, loading its first snapshot.
    pub fn open(
        store: PathBuf,
        tokens: Tokens,
        settings: Settings,
    ) -> Result<AppState, canopy_store::StoreError> {
        let snap = Snapshot::load(&store)?;
        Ok(AppState {
            store: Some(store),
            snap: ArcSwap::from_pointee(snap),
            tokens,
            settings,
            write_lock: tokio::sync::Mutex::new(()),
            pool: crate::pool::StorePool::unbounded(),
        })
    }

    /// State over an in-memory snapshot (tests, benchmarks).
    pub fn in_memory(snap: Snapshot, tokens: Tokens, settings: Settings) -> AppState {
        AppState {
            store: None,
            snap: ArcSwap::from_pointee(snap),
            tokens,
            settings,
            write_lock: tokio::sync::Mutex::new(()),
            pool: crate::pool::StorePool::unbounded(),
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snap.load_full()
    }

    /// Replaces the snapshot.
    pub fn swap(&self, s: Snapshot) {
        self.snap.store(Arc::new(s));
    }

    /// Reloads the store if its file changed. Returns whether it did. Callers hold
    /// `write_lock`.
    pub async fn refresh_locked(&self) -> Result<bool, ApiError> {
        let Some(path) = self.store.clone() else {
            return Ok(false);
        };
        let now = Stamp::of(&path);
        if now.is_none() || now == self.snapshot().stamp {
            return Ok(false);
        }
        let snap = self
            .pool
            .run("reload the store", move || Snapshot::load(&path))
            .await?
            .map_err(|e| ApiError::Store(e.to_string()))?;
        tracing::info!(
            communes = snap.data.communes.items.len(),
            alerts = snap.data.alerts.items.len(),
            zones = snap.data.zones.items.len(),
            "store changed: new snapshot loaded"
        );
        self.swap(snap);
        Ok(true)
    }

    /// [`Self::refresh_locked`] under the write lock, taken only when the store's
    /// version differs from the snapshot's (the NOTIFY of this server's own triage
    /// write finds them equal, and must not queue behind the next writers).
    pub async fn refresh(&self) -> Result<bool, ApiError> {
        if let Some(path) = &self.store {
            if Stamp::of(path) == self.snapshot().stamp {
                return Ok(false);
            }
        }
        let _g = self.write_lock.lock().await;
        self.refresh_locked().await
    }
}

/// Polls the store every `every` and reloads it when it changed, until the process
/// ends. Failed reloads are logged and retried.
///
/// On a PostgreSQL store a thread also LISTENs for the store's NOTIFY (a run's
/// swap, a triage or photo append by any process) and wakes the watcher at once;
/// when that connection fails it is retried every second, the poll going on.
pub fn spawn_watcher(state: Arc<AppState>, every: Duration) -> tokio::task::JoinHandle<()> {
    let wake = Arc::new(tokio::sync::Notify::new());
    if let Some(path) = state.store.clone().filter(|p| canopy_store::pg::is_pg(p)) {
        let wake = wake.clone();
        let spawned = std::thread::Builder::new()
            .name("canopy-listen".into())
            .spawn(move || loop {
                if let Err(e) = canopy_store::pg::listen(&path, || wake.notify_one()) {
                    tracing::warn!("LISTEN for store changes failed (polling meanwhile): {e}");
                }
                // Whatever was missed while not listening: reload if changed.
                wake.notify_one();
                std::thread::sleep(Duration::from_secs(1));
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the LISTEN thread (polling only): {e}");
        }
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = wake.notified() => {}
            }
            if let Err(e) = state.refresh().await {
                tracing::warn!("store reload failed, serving the previous snapshot: {e}");
            }
        }
    })
}
