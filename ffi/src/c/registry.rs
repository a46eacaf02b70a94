//! Engine handles: `uint64_t` IDs issued from 1 upward and never reused, so a stale handle is
//! always recognised: 0 or an ID never issued is `UNKNOWN_ENGINE`; an ID that was issued and then
//! destroyed is `ENGINE_DESTROYED`. C never holds a pointer to an engine.
//!
//! The lock guards only the map: calls clone the engine's `Arc` out and run without it, so a call
//! from inside a callback, a destroy from inside a callback and many threads at once all work.
//!
//! A pull-mode engine's last events (its `Logout`s) outlive it: destroy frees the engine and keeps
//! only the events not polled yet, until `roomlink_poll_event` has taken them all; a callback
//! engine leaves the map at destroy.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use roomlink::{Engine, ErrorCode, Event};

enum Entry {
    Live {
        engine: Arc<Engine>,
        pull: bool,
    },
    /// Destroy is running (pull mode only): events may still be added to its queue.
    Closing {
        engine: Arc<Engine>,
    },
    /// Destroyed (pull mode only): the events nobody polled yet; the entry goes once empty.
    Drained {
        events: VecDeque<Event>,
    },
}

/// Where `roomlink_poll_event` finds a handle's events.
pub(crate) enum Events {
    /// The engine's own queue (live, or being destroyed).
    Queue(Arc<Engine>),
    /// Destroyed: what was left; take it with [`pop_leftover`].
    Leftover,
    /// The engine has a handler: its events go to the callbacks.
    Callbacks,
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
    let engine = Arc::new(engine);
    registry.entries.insert(id, Entry::Live { engine, pull });
    Ok(id)
}

/// A live engine (not destroyed).
pub(crate) fn live(id: u64) -> Result<Arc<Engine>, ErrorCode> {
    let registry = lock();
    match registry.entries.get(&id) {
        Some(Entry::Live { engine, .. }) => Ok(engine.clone()),
        Some(_) => Err(ErrorCode::ENGINE_DESTROYED),
        None => Err(registry.missing(id)),
    }
}

/// Where the handle's events are, for the pull API.
pub(crate) fn events(id: u64) -> Result<Events, ErrorCode> {
    let registry = lock();
    match registry.entries.get(&id) {
        Some(Entry::Live { pull: false, .. }) => Ok(Events::Callbacks),
        Some(Entry::Live { engine, .. } | Entry::Closing { engine }) => {
            Ok(Events::Queue(engine.clone()))
        }
        Some(Entry::Drained { .. }) => Ok(Events::Leftover),
        None => Err(registry.missing(id)),
    }
}

/// The next event left by a destroyed pull engine; `ENGINE_DESTROYED` (and the entry is gone)
/// once none is left, or while destroy is still running (`Closing`: its events are still in the
/// engine, so a caller asks here only once that queue is finished).
pub(crate) fn pop_leftover(id: u64) -> Result<Event, ErrorCode> {
    let mut registry = lock();
    if let Some(Entry::Drained { events }) = registry.entries.get_mut(&id) {
        if let Some(event) = events.pop_front() {
            return Ok(event);
        }
        registry.entries.remove(&id);
    }
    Err(registry.missing(id))
}

/// Starts destroying a live engine: a callback engine leaves the map now; a pull engine stays
/// (`Closing`) for its last events. Only one caller gets the engine; later ones get
/// `ENGINE_DESTROYED`.
pub(crate) fn begin_destroy(id: u64) -> Result<Arc<Engine>, ErrorCode> {
    let mut registry = lock();
    let missing = registry.missing(id);
    let Some(entry) = registry.entries.get_mut(&id) else {
        return Err(missing);
    };
    let Entry::Live { engine, pull } = entry else {
        return Err(ErrorCode::ENGINE_DESTROYED);
    };
    let engine = engine.clone();
    if *pull {
        *entry = Entry::Closing {
            engine: engine.clone(),
        };
    } else {
        registry.entries.remove(&id);
    }
    Ok(engine)
}

/// Destroy has returned (no event will be queued any more): a pull engine's unpolled events move
/// out of it, and the engine itself is released.
pub(crate) fn end_destroy(id: u64) {
    let mut registry = lock();
    let Some(entry) = registry.entries.get_mut(&id) else {
        return;
    };
    let Entry::Closing { engine } = entry else {
        return;
    };
    let engine = engine.clone();
    let events: VecDeque<Event> = std::iter::from_fn(|| engine.poll_event()).collect();
    let old = if events.is_empty() {
        registry.entries.remove(&id)
    } else {
        Some(std::mem::replace(entry, Entry::Drained { events }))
    };
    drop(registry);
    // Outside the lock: dropping the last reference to an engine logs.
    drop(old);
    drop(engine);
}
