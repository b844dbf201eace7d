//! The event loop: one `select!` over terminal input, a tick, the feed, effect results
//! and SIGTERM; `update`, then one draw per batch. The terminal is restored on quit, on
//! SIGTERM, on error and on panic (ratatui's hook plus a drop guard).

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use crossterm::execute;
use crossterm::terminal::{Clear, ClearType, EnterAlternateScreen, enable_raw_mode};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::action::Action;
use super::app::{App, Level};
use super::effects::{self, Services};
use super::event::to_action;
use super::feed::{Feed, FeedEvent};
use super::update::Effect;

/// Rows in the first page, read before the first frame.
const FIRST_PAGE_ROWS: usize = 500;

/// Actions handled before a frame is drawn, so a burst of records costs one frame.
const BATCH: usize = 1024;

/// How often the clock moves on screen (in-flight times, the writer's ages).
const TICK: Duration = Duration::from_millis(500);

/// How the inspector runs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Capture the mouse (click, wheel).
    pub mouse: bool,
    /// Colours (`NO_COLOR` unset).
    pub color: bool,
}

/// Restores the terminal however the loop ends.
struct Guard {
    mouse: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.mouse {
            let _ = execute!(std::io::stdout(), DisableMouseCapture);
        }
        ratatui::restore();
    }
}

/// Runs the inspector until the user quits.
pub async fn run(feed: Feed, services: Services, options: Options) -> anyhow::Result<()> {
    let Feed { header, mut events } = feed;
    let mut terminal = ratatui::try_init()?;
    let _guard = Guard {
        mouse: options.mouse,
    };
    if options.mouse {
        execute!(std::io::stdout(), EnableMouseCapture)?;
    }
    let size = terminal.size()?;
    let mut app = App::new(header, (size.width, size.height));
    app.color = options.color;
    app.can_resign = services.resign.is_some();

    let store = services.store.clone();
    let (total, first) = tokio::task::spawn_blocking(move || {
        store.browse(|b| anyhow::Ok((b.count()?, b.page(None, FIRST_PAGE_ROWS)?)))
    })
    .await??;
    let mut pending = app.update(Action::Tick(now_us()));
    pending.extend(app.update(Action::Total(total)));
    let last = first.len() < FIRST_PAGE_ROWS;
    let rows = first
        .into_iter()
        .map(super::app::Row::from_summary)
        .collect();
    pending.extend(app.update(Action::Page { rows, last }));

    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let (clip_tx, mut clip_rx) = mpsc::unbounded_channel::<String>();
    let mut input = Some(EventStream::new());
    let mut tick = tokio::time::interval(TICK);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    terminal.draw(|f| super::render::render(&app, f))?;
    loop {
        for effect in std::mem::take(&mut pending) {
            match effect {
                Effect::Quit => return Ok(()),
                Effect::Edit(id) => {
                    // The editor gets the terminal: no input reader, no alternate screen.
                    drop(input.take());
                    if options.mouse {
                        let _ = execute!(std::io::stdout(), DisableMouseCapture);
                    }
                    ratatui::restore();
                    let edited = edit(&services, id).await;
                    enable_raw_mode()?;
                    execute!(std::io::stdout(), EnterAlternateScreen)?;
                    if options.mouse {
                        execute!(std::io::stdout(), EnableMouseCapture)?;
                    }
                    // A fresh terminal redraws everything; `Terminal::clear` would ask the
                    // terminal for the cursor position, an answer nothing reads here.
                    execute!(std::io::stdout(), Clear(ClearType::All))?;
                    terminal = ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(
                        std::io::stdout(),
                    ))?;
                    input = Some(EventStream::new());
                    match edited {
                        Ok(Some(request)) => spawn(
                            &tx,
                            effects::replay(services.clone(), id, false, Some(request)),
                        ),
                        Ok(None) => pending.extend(app.update(Action::Status(
                            Level::Info,
                            "edit cancelled: the request was left unchanged or emptied".into(),
                        ))),
                        Err(err) => pending
                            .extend(app.update(Action::Status(Level::Error, format!("{err:#}")))),
                    }
                }
                other => start(other, &services, &tx, &clip_tx),
            }
        }
        if !pending.is_empty() {
            continue;
        }
        let action = tokio::select! {
            Some(event) = next(&mut input) => match event {
                Ok(event) => to_action(app.mode, event),
                Err(err) => return Err(anyhow::anyhow!("could not read the terminal: {err}")),
            },
            Some(action) = rx.recv() => Some(action),
            Some(event) = events.recv() => Some(feed_action(event)),
            Some(text) = clip_rx.recv() => {
                osc52(&text);
                None
            }
            _ = tick.tick() => Some(Action::Tick(now_us())),
            _ = sigterm.recv() => return Ok(()),
        };
        if let Some(action) = action {
            pending.extend(app.update(action));
        }
        // Whatever else is ready goes into the same frame.
        for _ in 0..BATCH {
            let action = match (rx.try_recv(), events.try_recv()) {
                (Ok(a), Ok(event)) => {
                    pending.extend(app.update(a));
                    feed_action(event)
                }
                (Ok(a), Err(_)) => a,
                (Err(_), Ok(event)) => feed_action(event),
                (Err(_), Err(_)) => break,
            };
            pending.extend(app.update(action));
        }
        terminal.draw(|f| super::render::render(&app, f))?;
    }
}

fn now_us() -> i64 {
    crate::exchange::unix_micros(std::time::SystemTime::now())
}

fn feed_action(event: FeedEvent) -> Action {
    match event {
        FeedEvent::Started(started) => {
            Action::Started(started.iter().map(super::app::Row::from_started).collect())
        }
        FeedEvent::Committed(rows) => Action::Committed(rows),
        FeedEvent::Tunnel(state) => Action::Tunnel(state),
        FeedEvent::Header(header) => Action::Header(header),
        FeedEvent::Writer(info) => Action::Writer(info),
    }
}

async fn next(input: &mut Option<EventStream>) -> Option<std::io::Result<crossterm::event::Event>> {
    match input {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

fn spawn(
    tx: &mpsc::UnboundedSender<Action>,
    work: impl Future<Output = Option<Action>> + Send + 'static,
) {
    let tx = tx.clone();
    tokio::spawn(async move {
        if let Some(action) = work.await {
            let _ = tx.send(action);
        }
    });
}

fn start(
    effect: Effect,
    s: &Services,
    tx: &mpsc::UnboundedSender<Action>,
    clip: &mpsc::UnboundedSender<String>,
) {
    let s = s.clone();
    match effect {
        Effect::LoadDetail(id) => spawn(tx, effects::load_detail(s, id)),
        Effect::LoadPage { before } => spawn(tx, effects::load_page(s, before)),
        Effect::SearchSoon { generation, after } => spawn(tx, async move {
            tokio::time::sleep(after).await;
            Some(Action::SearchDue(generation))
        }),
        Effect::CancelSearch => effects::cancel_search(&s),
        Effect::Search {
            generation,
            words,
            ids,
        } => effects::search(s, generation, words, ids, tx.clone()),
        Effect::Replay(id) => spawn(tx, effects::replay(s, id, false, None)),
        Effect::ReplayResigned(id) => spawn(tx, effects::replay(s, id, true, None)),
        Effect::Diff(a, b) => spawn(tx, effects::diff(s, a, b)),
        Effect::CopyCurl(id) => spawn(tx, effects::copy_curl(s, id, clip.clone())),
        Effect::Export(format, ids) => spawn(tx, effects::export(s, format, ids)),
        Effect::Edit(_) | Effect::Quit => {}
    }
}

async fn edit(s: &Services, id: u64) -> anyhow::Result<Option<crate::exchange::RecordedRequest>> {
    let store = s.store.clone();
    let original = tokio::task::spawn_blocking(move || {
        store.get(&crate::exchange::ExchangeId::from_u64(id).0)
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::edit::edit_request(&original).await
}

/// Puts `text` on the clipboard through the terminal (OSC 52).
fn osc52(text: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
}
