//! Running the inspector's effects: store reads, replays, diffs, exports and copies, each
//! off the event loop, each reporting back as an [`Action`].

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc::UnboundedSender;

use crate::capture::Forwarder;
use crate::exchange::{Exchange, ExchangeId, RecordedRequest};
use crate::export::redact::Redactor;
use crate::export::{self, Format};
use crate::output::human_duration_us;
use crate::replay::{ReplayError, ReplayOptions, Replayed, Resign, replay_request};
use crate::signature::{Verdict, Verifier};
use crate::store::Store;

use super::action::Action;
use super::app::{Level, Row};
use super::view::ExchangeView;

/// Rows per page after the first.
pub const PAGE_ROWS: usize = 5_000;

/// Records searched per chunk of a text search: results stream in chunk by chunk, and
/// a cancelled search stops at the end of the chunk it is in.
pub const SEARCH_CHUNK: usize = 2_000;

/// What effects need: the store, the forwarder replays go through, the secrets.
#[derive(Clone)]
pub struct Services {
    /// The store the inspector reads and records replays in.
    pub store: Store,
    /// Sends replays (and records them in `store`).
    pub forwarder: Forwarder,
    /// The configured secrets (for redaction and verdicts).
    pub verifier: Verifier,
    /// Re-signing, when a secret is configured.
    pub resign: Option<Resign>,
    /// The text search that is current; older ones stop.
    pub search: Arc<AtomicU64>,
    /// The store's file, when it has one: text searches read it on a connection of
    /// their own, so a long search never holds up the detail or the pages.
    pub file: Option<PathBuf>,
}

/// A text for OSC 52 (the loop writes it to the terminal between frames).
pub type Clipboard = UnboundedSender<String>;

fn id_text(id: u64) -> String {
    ExchangeId::from_u64(id).0
}

async fn get(store: &Store, id: u64) -> Result<Exchange, String> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.get(&id_text(id)).map_err(|e| e.to_string()))
        .await
        .map_err(|e| e.to_string())?
}

/// Loads a record and prepares its view.
pub async fn load_detail(s: Services, id: u64) -> Option<Action> {
    let store = s.store.clone();
    let view = tokio::task::spawn_blocking(move || {
        store.get(&id_text(id)).map(|ex| ExchangeView::new(&ex))
    })
    .await
    .ok()?;
    Some(match view {
        Ok(view) => Action::Detail(Arc::new(view)),
        Err(err) => Action::Status(
            Level::Error,
            format!("could not load {}: {err}", id_text(id)),
        ),
    })
}

/// Loads the page of rows older than `before`.
pub async fn load_page(s: Services, before: u64) -> Option<Action> {
    let page =
        tokio::task::spawn_blocking(move || s.store.browse(|b| b.page(Some(before), PAGE_ROWS)))
            .await
            .ok()?;
    Some(match page {
        Ok(rows) => Action::Page {
            last: rows.len() < PAGE_ROWS,
            rows: rows.into_iter().map(Row::from_summary).collect(),
        },
        Err(err) => Action::Status(Level::Error, format!("could not read the store: {err:#}")),
    })
}

/// Searches headers and bodies for `words`, newest first, sending hits chunk by chunk
/// until done, a newer search starts, or [`cancel_search`] stops it.
pub fn search(
    s: Services,
    generation: u64,
    words: Vec<String>,
    ids: Option<Vec<u64>>,
    tx: UnboundedSender<Action>,
) {
    if ids.is_none() {
        s.search.store(generation, Ordering::SeqCst);
    }
    tokio::task::spawn_blocking(move || {
        let own = s
            .file
            .as_ref()
            .and_then(|path| Store::open_read_only(path).ok());
        let search = |words: &[String], low: u64, high: u64| match &own {
            Some(reader) => reader.browse().search(words, low, high),
            None => s.store.browse(|b| b.search(words, low, high)),
        };
        let below = |before: u64| match &own {
            Some(reader) => reader.browse().ids_below(before, SEARCH_CHUNK),
            None => s.store.browse(|b| b.ids_below(before, SEARCH_CHUNK)),
        };
        let current = || s.search.load(Ordering::SeqCst) == generation;
        let send = |ids: Vec<u64>, scanned: u64, done: bool| {
            let _ = tx.send(Action::SearchHits {
                generation,
                ids,
                scanned,
                done,
            });
        };
        if let Some(ids) = ids {
            let (Some(low), Some(high)) = (ids.iter().min(), ids.iter().max()) else {
                return;
            };
            let found = search(&words, *low, high + 1).unwrap_or_default();
            return send(
                found.into_iter().filter(|id| ids.contains(id)).collect(),
                0,
                false,
            );
        }
        let mut before = u64::MAX;
        let mut scanned = 0;
        while current() {
            let chunk = below(before).unwrap_or_default();
            let (Some(&high), Some(&low)) = (chunk.first(), chunk.last()) else {
                break;
            };
            let found = search(&words, low, high + 1).unwrap_or_default();
            scanned += chunk.len() as u64;
            send(found, scanned, false);
            before = low;
        }
        if current() {
            send(Vec::new(), scanned, true);
        }
    });
}

/// Stops the running text search (at the end of its current chunk).
pub fn cancel_search(s: &Services) {
    s.search.store(0, Ordering::SeqCst);
}

/// Replays `id` (re-signed when asked, or an edited request) and says how it went.
pub async fn replay(
    s: Services,
    id: u64,
    resign: bool,
    edited: Option<RecordedRequest>,
) -> Option<Action> {
    let original = match get(&s.store, id).await {
        Ok(ex) => ex,
        Err(err) => return Some(Action::Status(Level::Error, format!("not replayed: {err}"))),
    };
    let opts = ReplayOptions {
        to: None,
        resign: if resign { s.resign.clone() } else { None },
    };
    let request = edited.as_ref().unwrap_or(&original.request);
    let outcome = replay_request(&s.forwarder, &original, request, &opts).await;
    Some(replayed(&original.id, outcome, edited.is_some() && !resign))
}

fn replayed(original: &ExchangeId, outcome: Result<Replayed, ReplayError>, edited: bool) -> Action {
    let done = match outcome {
        Ok(done) => done,
        Err(err) => return Action::Replayed(None, Level::Error, format!("{original}: {err}")),
    };
    let ex = &done.exchange;
    let status = ex
        .status()
        .map_or_else(|| "no response".to_string(), |s| s.to_string());
    let mut text = format!(
        "replayed {original} → {}: {status} in {}",
        ex.id,
        human_duration_us(ex.duration_us)
    );
    match done.differs {
        Some(true) => text.push_str(", response differs (d: diff)"),
        Some(false) => text.push_str(", same response"),
        None => {}
    }
    if let Some(provider) = &done.resigned {
        text.push_str(&format!(", re-signed ({provider})"));
    }
    if let Some(v) = &ex.verdict {
        text.push_str(&format!(", sig {}", v.label()));
        if edited && matches!(v, Verdict::Invalid { .. }) {
            text.push_str(": the edit broke the signature; s re-signs");
        }
    }
    if let Some(error) = &ex.error {
        text.push_str(&format!(": {error}"));
    }
    let level = if ex.failed() {
        Level::Error
    } else {
        Level::Done
    };
    Action::Replayed(Some(Row::from_exchange(ex)), level, text)
}

/// Diffs `b` against `a`.
pub async fn diff(s: Services, a: u64, b: u64) -> Option<Action> {
    let (a, b) = match (get(&s.store, a).await, get(&s.store, b).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(err), _) | (_, Err(err)) => {
            return Some(Action::Status(Level::Error, format!("no diff: {err}")));
        }
    };
    Some(Action::DiffReady(
        crate::diff::render(&a, &b)
            .lines()
            .map(str::to_string)
            .collect(),
    ))
}

fn redactor(verifier: &Verifier) -> Redactor {
    Redactor::new(true, verifier.secret_texts().map(str::to_string))
        .with_headers(verifier.generic_headers())
}

/// Writes the curl command for `id` to a private file and hands it to the clipboard.
pub async fn copy_curl(s: Services, id: u64, clipboard: Clipboard) -> Option<Action> {
    let ex = match get(&s.store, id).await {
        Ok(ex) => ex,
        Err(err) => return Some(Action::Status(Level::Error, format!("not copied: {err}"))),
    };
    let command = export::curl::command(&redactor(&s.verifier).exchange(&ex));
    let path = std::env::temp_dir().join(format!("hooktap-{}.sh", ex.id));
    let written = write_private(&path, command.as_bytes());
    let _ = clipboard.send(command);
    Some(match written {
        Ok(()) => Action::Status(
            Level::Done,
            format!(
                "copied as curl (clipboard via OSC 52) and written to {}",
                path.display()
            ),
        ),
        Err(err) => Action::Status(
            Level::Error,
            format!("copied to the clipboard, but {}: {err}", path.display()),
        ),
    })
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut file = crate::fsperm::create_file(path)?;
    file.write_all(bytes)
}

/// Exports `ids` in `format` to a new file in the current folder.
pub async fn export(s: Services, format: Format, ids: Vec<u64>) -> Option<Action> {
    let ext = match format {
        Format::Har => "har",
        Format::Curl => "sh",
        Format::Fixture => "fixture.json",
        Format::Jsonl => "jsonl",
    };
    let stamp =
        crate::exchange::format_time(crate::exchange::unix_micros(std::time::SystemTime::now()));
    let stamp: String = stamp
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(14)
        .collect();
    let path = PathBuf::from(format!("hooktap-{stamp}.{ext}"));
    let n = ids.len();
    let result = tokio::task::spawn_blocking(move || -> anyhow::Result<PathBuf> {
        let ids: Vec<ExchangeId> = ids.into_iter().map(ExchangeId::from_u64).collect();
        let file = crate::fsperm::create_file(&path)?;
        let mut out = std::io::BufWriter::new(file);
        export::write(format, &s.store, &ids, &redactor(&s.verifier), &mut out)?;
        out.flush()?;
        Ok(path)
    })
    .await
    .ok()?;
    Some(match result {
        Ok(path) => Action::Status(
            Level::Done,
            format!(
                "exported {n} requests to ./{} (credentials redacted)",
                path.display()
            ),
        ),
        Err(err) => Action::Status(Level::Error, format!("export failed: {err:#}")),
    })
}
