//! Engine handles: `uint64_t` IDs issued from 1 upward and never reused, so a stale handle is
//! always recognised: 0 or an ID never issued is `UNKNOWN_ENGINE`; an ID that was issued and then
//! destroyed is `ENGINE_DESTROYED`. C never holds a pointer to an engine.
//!
//! The lock guards only the map: calls clone the engine's `Arc` out and run without it, so a call
//! from inside a callback, a destroy from inside a callback and many threads at once all work.
//!
//! A pull-mode engine stays listed after destroy until its last queued events (its `Logout`s) have
//! been polled, so a host can drain them; a callback engine leaves the map at destroy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use roomlink::{Engine, ErrorCode};

/// Where an engine is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Live,
    /// Destroy is running (pull mode only): events may still be added.
    Closing,
    /// Destroyed (pull mode only): the queue only shrinks; removed once polled empty.
    Draining,
}

struct Entry {
    engine: Arc<Engine>,
    pull: bool,
    phase: Phase,
}

struct Registry {
    /// The next ID to issue; every ID below it (and above 0) was issued.
    next: u64,
    entries: BTreeMap<u64, Entry>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 1,
    entries: BTreeMap::new(),
});

fn lock() -> MutexGuard<'static, Registry> {
    // Only plain map operations run under this lock; a poisoned one still holds a valid map.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    fn missing(&self, id: u64) -> ErrorCode {
        if id != 0 && id < self.next {
            ErrorCode::ENGINE_DESTROYED
        } else {
            ErrorCode::UNKNOWN_ENGINE
        }
    }
}

/// Lists a new engine; returns its handle.
pub(crate) fn insert(engine: Engine, pull: bool) -> Result<u64, ErrorCode> {
    let mut registry = lock();
    let id = registry.next;
    // 2^64 engines will not be created; refusing beats wrapping to a reused ID.
    registry.next = id.checked_add(1).ok_or(ErrorCode::INTERNAL_ERROR)?;
    let entry = Entry {
        engine: Arc::new(engine),
        pull,
        phase: Phase::Live,
    };
    registry.entries.insert(id, entry);
    Ok(id)
}

/// A live engine (not destroyed).
pub(crate) fn live(id: u64) -> Result<Arc<Engine>, ErrorCode> {
    let registry = lock();
    match registry.entries.get(&id) {
        Some(e) if e.phase == Phase::Live => Ok(e.engine.clone()),
        Some(_) => Err(ErrorCode::ENGINE_DESTROYED),
        None => Err(registry.missing(id)),
    }
}

/// An engine whose events can still be read: (engine, pull mode, phase).
pub(crate) fn readable(id: u64) -> Result<(Arc<Engine>, bool, Phase), ErrorCode> {
    let registry = lock();
    match registry.entries.get(&id) {
        Some(e) => Ok((e.engine.clone(), e.pull, e.phase)),
        None => Err(registry.missing(id)),
    }
}

/// Starts destroying a live engine: a callback engine leaves the map now; a pull engine stays
/// (`Closing`) for its last events. Only one caller gets the engine; later ones get
/// `ENGINE_DESTROYED`.
pub(crate) fn begin_destroy(id: u64) -> Result<Arc<Engine>, ErrorCode> {
    let mut registry = lock();
    let Some(entry) = registry.entries.get_mut(&id) else {
        return Err(registry.missing(id));
    };
    if entry.phase != Phase::Live {
        return Err(ErrorCode::ENGINE_DESTROYED);
    }
    if entry.pull {
        entry.phase = Phase::Closing;
        return Ok(entry.engine.clone());
    }
    let engine = entry.engine.clone();
    registry.entries.remove(&id);
    Ok(engine)
}

/// Destroy has returned: no event will be added to a pull engine's queue any more.
pub(crate) fn end_destroy(id: u64) {
    if let Some(entry) = lock().entries.get_mut(&id) {
        entry.phase = Phase::Draining;
    }
}

/// A destroyed pull engine's queue was found empty: forget it (it frees when the last call
/// holding it returns).
pub(crate) fn drained(id: u64) {
    let mut registry = lock();
    if registry
        .entries
        .get(&id)
        .is_some_and(|e| e.phase == Phase::Draining)
    {
        let entry = registry.entries.remove(&id);
        drop(registry);
        // Dropped outside the lock: if this was the last reference, dropping the engine logs.
        drop(entry);
    }
}
