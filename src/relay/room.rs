//! The queue's room: every byte a sender's body may take in the queue is reserved before
//! it is read, against the name's bounds and the relay-wide cap, and given back if it is
//! not used. Stored and reserved bytes are counted together, so concurrent senders can
//! never overfill the queue between them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The queue's bounds: per name, and over all names.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Most requests held per name.
    pub max_requests: u64,
    /// Most body bytes held per name.
    pub max_bytes: u64,
    /// Most body bytes held over all names.
    pub max_total_bytes: u64,
}

/// Why a body cannot be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The name's queue is at its bounds.
    #[error("the offline queue for this tunnel is full")]
    NameFull,
    /// The relay's queued bytes are at their cap (`--queue-max-total-bytes`).
    #[error("the relay's offline queue is full")]
    RelayFull,
}

#[derive(Clone, Copy, Debug, Default)]
struct Use {
    stored_count: u64,
    stored_bytes: u64,
    reserved_count: u64,
    reserved_bytes: u64,
}

#[derive(Debug, Default)]
struct Inner {
    names: HashMap<String, Use>,
    /// Stored and reserved bytes over all names.
    total: u64,
}

/// What is stored and reserved, per name and in total; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Accounts(Arc<Mutex<Inner>>);

impl Accounts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets what is stored for `name` (read from the database), keeping its reservations.
    pub fn set_stored(&self, name: &str, count: u64, bytes: u64) {
        let mut inner = self.lock();
        let entry = inner.names.entry(name.to_string()).or_default();
        let before = entry.stored_bytes;
        entry.stored_count = count;
        entry.stored_bytes = bytes;
        inner.total = inner.total.saturating_sub(before) + bytes;
    }

    /// Sets what is stored for every name from `stored` (name → requests, bytes, read
    /// from the database); a name missing from it has nothing stored. Reservations stay.
    pub fn set_all_stored(&self, stored: &HashMap<String, (u64, u64)>) {
        let mut inner = self.lock();
        for (name, entry) in inner.names.iter_mut() {
            let (count, bytes) = stored.get(name).copied().unwrap_or((0, 0));
            entry.stored_count = count;
            entry.stored_bytes = bytes;
        }
        for (name, (count, bytes)) in stored {
            let entry = inner.names.entry(name.clone()).or_default();
            entry.stored_count = *count;
            entry.stored_bytes = *bytes;
        }
        inner.total = inner
            .names
            .values()
            .map(|u| u.stored_bytes + u.reserved_bytes)
            .sum();
        // Names with nothing stored or reserved are forgotten, so the map stays small.
        inner
            .names
            .retain(|_, u| u.stored_count + u.reserved_count > 0 || u.reserved_bytes > 0);
    }

    /// Stored and reserved body bytes over all names.
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// Reserves room for one request of `bytes` for `name`.
    pub fn reserve(&self, name: &str, bytes: u64, bounds: Bounds) -> Result<Reservation, Refused> {
        let mut inner = self.lock();
        let total = inner.total;
        let entry = inner.names.entry(name.to_string()).or_default();
        if entry.stored_count + entry.reserved_count >= bounds.max_requests
            || entry.stored_bytes + entry.reserved_bytes + bytes > bounds.max_bytes
        {
            return Err(Refused::NameFull);
        }
        if total + bytes > bounds.max_total_bytes {
            return Err(Refused::RelayFull);
        }
        entry.reserved_count += 1;
        entry.reserved_bytes += bytes;
        inner.total += bytes;
        Ok(Reservation {
            accounts: self.clone(),
            name: name.to_string(),
            bytes,
            bounds,
            done: false,
        })
    }

    /// One stored request of `bytes` for `name` left the queue.
    pub fn removed(&self, name: &str, bytes: u64) {
        let mut inner = self.lock();
        if let Some(entry) = inner.names.get_mut(name) {
            entry.stored_count = entry.stored_count.saturating_sub(1);
            let freed = bytes.min(entry.stored_bytes);
            entry.stored_bytes -= freed;
            inner.total = inner.total.saturating_sub(freed);
        }
    }
}

/// Room held for one request until it is stored or given up (dropped).
#[derive(Debug)]
pub struct Reservation {
    accounts: Accounts,
    name: String,
    bytes: u64,
    bounds: Bounds,
    done: bool,
}

impl Reservation {
    /// Bytes reserved.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reserves `more` bytes (a body of unknown length grows as it arrives).
    pub fn grow(&mut self, more: u64) -> Result<(), Refused> {
        let mut inner = self.accounts.lock();
        let total = inner.total;
        let entry = inner.names.entry(self.name.clone()).or_default();
        if entry.stored_bytes + entry.reserved_bytes + more > self.bounds.max_bytes {
            return Err(Refused::NameFull);
        }
        if total + more > self.bounds.max_total_bytes {
            return Err(Refused::RelayFull);
        }
        entry.reserved_bytes += more;
        inner.total += more;
        self.bytes += more;
        Ok(())
    }

    /// The request is stored with `bytes` body bytes: the reservation becomes stored room
    /// and what was not used is given back.
    pub fn stored(mut self, bytes: u64) {
        self.done = true;
        let mut inner = self.accounts.lock();
        let entry = inner.names.entry(self.name.clone()).or_default();
        entry.reserved_count = entry.reserved_count.saturating_sub(1);
        entry.reserved_bytes = entry.reserved_bytes.saturating_sub(self.bytes);
        entry.stored_count += 1;
        entry.stored_bytes += bytes;
        inner.total = inner.total.saturating_sub(self.bytes) + bytes;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut inner = self.accounts.lock();
        if let Some(entry) = inner.names.get_mut(&self.name) {
            entry.reserved_count = entry.reserved_count.saturating_sub(1);
            entry.reserved_bytes = entry.reserved_bytes.saturating_sub(self.bytes);
        }
        inner.total = inner.total.saturating_sub(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        max_requests: 3,
        max_bytes: 100,
        max_total_bytes: 150,
    };

    #[test]
    fn reservations_count_until_stored_or_given_back() {
        let accounts = Accounts::default();
        let a = accounts.reserve("a", 60, BOUNDS).unwrap();
        assert_eq!(
            accounts.reserve("a", 50, BOUNDS).unwrap_err(),
            Refused::NameFull
        );
        let mut b = accounts.reserve("b", 80, BOUNDS).unwrap();
        assert_eq!(b.grow(20).unwrap_err(), Refused::RelayFull);
        assert_eq!(accounts.total(), 140);
        a.stored(10);
        assert_eq!(accounts.total(), 90, "the unused 50 bytes are given back");
        drop(b);
        assert_eq!(accounts.total(), 10);
        accounts.removed("a", 10);
        assert_eq!(accounts.total(), 0);
        let held: Vec<_> = (0..3)
            .map(|_| accounts.reserve("c", 0, BOUNDS).unwrap())
            .collect();
        assert_eq!(
            accounts.reserve("c", 0, BOUNDS).unwrap_err(),
            Refused::NameFull,
            "the count bound counts reservations"
        );
        drop(held);
        assert!(accounts.reserve("c", 0, BOUNDS).is_ok());
    }
}
