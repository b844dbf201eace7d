//! The inspector while things happen: a text search that waits for the typing to
//! pause, is cancelled when the words change and streams its hits; requests in flight
//! that turn into their records; a viewer's header on its writer.

use std::sync::Arc;

use super::action::Action;
use super::app::{App, Row};
use super::feed::Started;
use super::fixtures::{NOW, T0, exchange, id, row, viewer_header};
use super::search::SEARCH_DEBOUNCE;
use super::tests::{app_with, press, records, screen};
use super::update::Effect;
use super::view::ExchangeView;
use crate::exchange::Source;

fn soon(generation: u64) -> Effect {
    Effect::SearchSoon {
        generation,
        after: SEARCH_DEBOUNCE,
    }
}

fn search(generation: u64, words: &[&str]) -> Effect {
    Effect::Search {
        generation,
        words: words.iter().map(|w| w.to_string()).collect(),
        ids: None,
    }
}

fn hits(generation: u64, ids: Vec<u64>, scanned: u64, done: bool) -> Action {
    Action::SearchHits {
        generation,
        ids,
        scanned,
        done,
    }
}

#[test]
fn typing_searches_once_the_typing_pauses() {
    let recs = records();
    let (mut app, _) = app_with(&recs, (120, 30));
    let g = app.search_gen;
    let effects = press(&mut app, "/cha");
    let asked: Vec<&Effect> = effects
        .iter()
        .filter(|e| !matches!(e, Effect::LoadDetail(_)))
        .collect();
    assert_eq!(
        asked,
        [&soon(g + 1), &soon(g + 2), &soon(g + 3)],
        "a timer per keystroke, no query yet"
    );
    assert!(app.searching && !app.search_running);
    assert!(
        screen(&app).contains("(0 shown, searching bodies…)"),
        "{}",
        screen(&app)
    );
    // The timers of the first keystrokes find newer words: nothing starts.
    assert!(app.update(Action::SearchDue(g + 1)).is_empty());
    assert!(app.update(Action::SearchDue(g + 2)).is_empty());
    // The last one: one query, for the whole word.
    assert_eq!(
        app.update(Action::SearchDue(g + 3)),
        vec![search(g + 3, &["cha"])]
    );
    assert!(
        app.update(Action::SearchDue(g + 3)).is_empty(),
        "started once"
    );
}

#[test]
fn changing_the_words_cancels_the_running_search_and_hits_stream_in() {
    let recs = records();
    let (mut app, _) = app_with(&recs, (120, 30));
    press(&mut app, "/charge");
    let g = app.search_gen;
    app.update(Action::SearchDue(g));
    // The first chunk: one hit, more to come.
    let stripe = recs[2].id.to_u64().unwrap();
    app.update(hits(g, vec![stripe], 2, false));
    assert_eq!(app.shown(), 1, "hits show as they come");
    assert!(app.searching);
    assert!(
        screen(&app).contains("(1 shown, searching bodies… 2 of 6)"),
        "{}",
        screen(&app)
    );

    // Typing on while it runs: cancelled at once, the next waits for the pause.
    let effects = press(&mut app, "d");
    assert_eq!(effects[..2], [Effect::CancelSearch, soon(g + 1)]);
    assert_eq!(app.shown(), 0, "the old words' hits are gone");
    app.update(hits(g, vec![recs[0].id.to_u64().unwrap()], 4, true));
    assert_eq!(
        app.shown(),
        0,
        "the cancelled search's last chunk is ignored"
    );
    assert!(
        !press(&mut app, "\x08").contains(&Effect::CancelSearch),
        "nothing runs during the pause, nothing to cancel"
    );

    // A record arriving while the typing pauses is left to the search that will start.
    let effects = app.update(Action::Committed(vec![row(38, "POST", "/x", Some(200))]));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Search { .. })));
    let g = app.search_gen;
    assert_eq!(
        app.update(Action::SearchDue(g)),
        vec![search(g, &["charge"])]
    );
    // Once it runs, an arrival is searched on its own.
    let new = row(39, "POST", "/y", Some(200));
    let effects = app.update(Action::Committed(vec![new.clone()]));
    assert!(effects.contains(&Effect::Search {
        generation: g,
        words: vec!["charge".into()],
        ids: Some(vec![new.id]),
    }));
    app.update(hits(g, vec![stripe], 8, true));
    assert!(!app.searching);
    assert!(
        screen(&app).contains("filter: charge (1 shown)"),
        "{}",
        screen(&app)
    );
    // Terms without bare words start no search; esc after a finished one cancels nothing.
    assert!(
        !press(&mut app, "\x1b\x1b")
            .iter()
            .any(|e| matches!(e, Effect::CancelSearch | Effect::SearchSoon { .. }))
    );
    press(&mut app, "/method:POST");
    assert!(!app.searching, "no bare word left, no search waits");
    for g in 0..=app.search_gen {
        assert!(
            app.update(Action::SearchDue(g)).is_empty(),
            "`m`, `me`… were words while typed; their timers start nothing"
        );
    }
}

fn started(n: u64, path: &str) -> Started {
    Started {
        id: id(n).to_u64().unwrap(),
        method: "POST".into(),
        path: path.into(),
        source: Source::Relay,
        started_at_us: T0 + n as i64 * 1_000_000,
    }
}

#[test]
fn an_in_flight_request_shows_its_wait_then_turns_into_its_record() {
    let recs = records();
    let (mut app, _) = app_with(&recs, (120, 30));
    let slow = started(38, "/hooks/slow");
    let failed = app.counts.failed;
    let effects = app.update(Action::Started(vec![Row::from_started(&slow)]));
    assert_eq!(
        app.selected,
        Some(slow.id),
        "following: the newest is selected"
    );
    assert!(effects.is_empty(), "no record to load yet: {effects:?}");
    assert_eq!(app.shown(), 7);
    assert_eq!(app.counts.total, 6, "not a record yet");
    assert_eq!(app.counts.failed, failed, "no status yet is not a failure");
    app.update(Action::Tick(NOW + 500_000));
    insta::assert_snapshot!("in_flight", screen(&app));
    assert!(press(&mut app, "r").is_empty(), "no record to replay yet");
    assert!(
        app.status
            .as_ref()
            .is_some_and(|(_, s)| s.contains("still in flight"))
    );
    let effects = press(&mut app, "xh");
    assert!(
        matches!(&effects[..], [Effect::Export(_, ids)] if ids.len() == 6 && !ids.contains(&slow.id)),
        "{effects:?}"
    );
    press(&mut app, "/status:err");
    assert_eq!(app.shown(), 1, "waiting is not `no response`: only /health");
    press(&mut app, "\x1b/slow");
    assert_eq!(app.shown(), 1, "its path is searched");
    press(&mut app, "\x1b\x1b");

    // The record: it replaces the row, and its detail loads since it is selected.
    let mut ex = exchange(38, "POST", "/hooks/slow", Some(200));
    ex.source = Source::Relay;
    let effects = app.update(Action::Committed(vec![Row::from_exchange(&ex)]));
    assert_eq!(effects, vec![Effect::LoadDetail(slow.id)]);
    assert_eq!((app.shown(), app.counts.total), (7, 7));
    assert!(app.in_flight.is_empty() && !app.rows.iter().any(|r| r.in_flight));
    app.update(Action::Detail(Arc::new(ExchangeView::new(&ex))));
    let text = screen(&app);
    assert!(text.contains("POST /hooks/slow HTTP/1.1"), "{text}");
    assert!(!text.contains("in flight"), "{text}");

    // A start reported after its commit changes nothing.
    app.update(Action::Started(vec![Row::from_started(&slow)]));
    assert!(app.in_flight.is_empty());
}

#[test]
fn an_in_flight_row_whose_record_never_comes_is_dropped_after_the_timeout() {
    let mut app = App::new(viewer_header(), (100, 24));
    app.update(Action::Committed(vec![row(1, "POST", "/done", Some(200))]));
    let lost = started(2, "/lost");
    app.update(Action::Started(vec![Row::from_started(&lost)]));
    let at = lost.started_at_us;
    app.update(Action::Tick(at + 60_000_000));
    assert_eq!(app.shown(), 2, "still waiting a minute later");
    let effects = app.update(Action::Tick(at + super::rows::IN_FLIGHT_TIMEOUT_US + 1));
    assert_eq!(app.shown(), 1);
    assert!(app.in_flight.is_empty());
    assert_eq!(
        effects,
        vec![Effect::LoadDetail(id(1).to_u64().unwrap())],
        "the selection moves to the newest record"
    );
}

#[test]
fn a_viewer_says_what_it_knows_of_the_writer() {
    let mut app = App::new(viewer_header(), (120, 30));
    app.color = false;
    app.now_us = NOW;
    app.update(Action::Committed(vec![row(37, "POST", "/one", Some(200))]));
    insta::assert_snapshot!("viewer_writer_active", screen(&app));
    let mut gone = app.header.writer.unwrap();
    gone.open_by = super::writer::OpenBy::Nobody;
    app.update(Action::Writer(gone));
    app.update(Action::Tick(NOW + 7_200_000_000));
    let text = screen(&app);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("● no writer open · last record 2h ago"),
        "{text}"
    );
}
