//! The inspector without a terminal: key sequences through `update` (selection, follow,
//! filtering, effects asked for) and whole screens drawn on ratatui's `TestBackend`.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::action::Action;
use super::app::{App, Focus, Mode, Tab};
use super::fixtures::{NOW, exchange, invalid_stripe, listen_header, row, viewer_header};
use super::keys::action_for;
use super::update::Effect;
use super::view::ExchangeView;
use crate::exchange::{Body, Exchange, Source};
use crate::signature::Verdict;

/// Presses `keys` (one char each; `\n` Enter, `\t` Tab, `\x1b` Esc), collecting effects.
pub(super) fn press(app: &mut App, keys: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\t' => KeyCode::Tab,
            '\x1b' => KeyCode::Esc,
            '\x08' => KeyCode::Backspace,
            c => KeyCode::Char(c),
        };
        if let Some(action) = action_for(app.mode, KeyEvent::new(code, KeyModifiers::NONE)) {
            effects.extend(app.update(action));
        }
    }
    effects
}

pub(super) fn records() -> Vec<Exchange> {
    let mut a = exchange(0, "POST", "/webhooks/stripe", Some(200));
    a.verdict = Some(Verdict::Valid {
        provider: "stripe".into(),
    });
    a.request
        .headers
        .push(("stripe-signature".into(), b"t=1,v1=aa".to_vec()));
    let mut b = exchange(3, "POST", "/webhooks/github", Some(401));
    b.verdict = Some(Verdict::Invalid {
        provider: "github".into(),
        reason: "the signature does not match".into(),
        header: Some("x-hub-signature-256".into()),
        expected: Some("sha256=aa".into()),
        received: Some("sha256=bb".into()),
        signed: None,
    });
    b.request
        .headers
        .push(("x-github-delivery".into(), b"d-1".to_vec()));
    let mut c = exchange(15, "POST", "/webhooks/stripe", Some(400));
    c.verdict = Some(invalid_stripe());
    c.source = Source::Relay;
    let mut d = exchange(16, "POST", "/webhooks/stripe", Some(200));
    d.source = Source::Replay;
    d.replay_of = Some(c.id.clone());
    let mut e = exchange(33, "POST", "/hooks/svix", Some(202));
    e.source = Source::Queued;
    e.request
        .headers
        .push(("x-github-delivery".into(), b"d-1".to_vec()));
    let f = exchange(34, "GET", "/health", None);
    vec![a, b, c, d, e, f]
}

pub(super) fn app_with(records: &[Exchange], size: (u16, u16)) -> (App, Vec<Effect>) {
    let mut app = App::new(listen_header(), size);
    app.color = false;
    app.now_us = NOW;
    let effects = app.update(Action::Committed(
        records.iter().map(super::app::Row::from_exchange).collect(),
    ));
    (app, effects)
}

/// Loads the selection's detail as the event loop would.
pub(super) fn load_detail(app: &mut App, records: &[Exchange], effects: &[Effect]) {
    for effect in effects {
        if let Effect::LoadDetail(id) = effect
            && let Some(ex) = records.iter().find(|e| e.id.to_u64() == Some(*id))
        {
            app.update(Action::Detail(Arc::new(ExchangeView::new(ex))));
        }
    }
}

pub(super) fn screen(app: &App) -> String {
    let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
    terminal.draw(|f| super::render::render(app, f)).unwrap();
    // Each line of the buffer, trailing blanks trimmed.
    let buffer = terminal.backend().buffer().clone();
    let width = usize::from(buffer.area.width);
    buffer
        .content
        .chunks(width)
        .map(|cells| {
            cells
                .iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn follow_keeps_the_newest_until_the_user_moves_and_resumes_at_the_top() {
    let recs = records();
    let (mut app, effects) = app_with(&recs, (120, 30));
    assert!(app.follow);
    assert_eq!(
        effects,
        vec![Effect::LoadDetail(recs[5].id.to_u64().unwrap())]
    );
    press(&mut app, "jj");
    assert!(!app.follow);
    assert_eq!(app.selected, recs[3].id.to_u64());
    app.update(Action::Committed(vec![row(40, "POST", "/new", Some(200))]));
    assert_eq!(
        app.selected,
        recs[3].id.to_u64(),
        "the selection stays on its record"
    );
    assert_eq!(app.cursor, 3);
    press(&mut app, "g");
    assert!(app.follow);
    app.update(Action::Committed(vec![row(
        41,
        "POST",
        "/newer",
        Some(200),
    )]));
    assert_eq!(app.selected_row().map(|r| r.path.as_str()), Some("/newer"));
    press(&mut app, "G");
    assert_eq!(app.selected, recs[0].id.to_u64());
    press(&mut app, "f");
    assert_eq!((app.follow, app.cursor), (true, 0));
}

#[test]
fn filter_terms_narrow_the_list_and_esc_drops_them() {
    let recs = records();
    let (mut app, _) = app_with(&recs, (120, 30));
    let effects = press(&mut app, "/status:4xx path:stripe");
    assert_eq!(app.mode, Mode::Filter);
    assert_eq!(app.shown(), 1);
    assert!(!app.searching, "no bare words left, no search running");
    assert!(effects.iter().any(|e| matches!(e, Effect::LoadDetail(_))));
    assert_eq!(app.selected_row().map(|r| r.status), Some(Some(400)));
    press(&mut app, "\n");
    assert_eq!(app.mode, Mode::Normal);
    press(&mut app, "\x1b");
    assert_eq!(app.shown(), 6);
    press(&mut app, "/sig:bogus");
    assert!(
        app.filter_error
            .as_deref()
            .is_some_and(|e| e.contains("sig:bogus"))
    );
    assert_eq!(
        app.filter.words(),
        ["sig"],
        "the last filter that parsed stays in force"
    );
    press(&mut app, "\x1b");
    press(&mut app, "/charge");
    let effects = app.update(Action::SearchDue(app.search_gen));
    let search = effects.iter().rev().find_map(|e| match e {
        Effect::Search {
            generation,
            words,
            ids: None,
        } => Some((*generation, words.clone())),
        _ => None,
    });
    let (generation, words) = search.expect("a body search");
    assert_eq!(words, ["charge"]);
    assert_eq!(
        app.shown(),
        0,
        "no path has it; the search has not answered"
    );
    let id = recs[2].id.to_u64().unwrap();
    app.update(Action::SearchHits {
        generation: generation - 1,
        ids: vec![id],
        scanned: 6,
        done: true,
    });
    assert_eq!(app.shown(), 0, "a stale search is ignored");
    app.update(Action::SearchHits {
        generation,
        ids: vec![id],
        scanned: 6,
        done: true,
    });
    assert_eq!(app.shown(), 1);
    assert!(!app.searching);
}

#[test]
fn keys_ask_for_the_effects() {
    let recs = records();
    let (mut app, _) = app_with(&recs, (120, 30));
    let newest = recs[5].id.to_u64().unwrap();
    assert_eq!(press(&mut app, "r"), vec![Effect::Replay(newest)]);
    assert_eq!(press(&mut app, "c"), vec![Effect::CopyCurl(newest)]);
    assert_eq!(press(&mut app, "e"), vec![Effect::Edit(newest)]);
    assert!(
        press(&mut app, "s").is_empty(),
        "no secret: says so instead"
    );
    assert!(
        app.status
            .as_ref()
            .is_some_and(|(_, s)| s.contains("--verify"))
    );
    app.can_resign = true;
    assert_eq!(press(&mut app, "s"), vec![Effect::ReplayResigned(newest)]);
    assert!(
        press(&mut app, "d").is_empty(),
        "not a replay, nothing marked"
    );
    press(&mut app, "jj");
    let (replay, original) = (recs[3].id.to_u64().unwrap(), recs[2].id.to_u64().unwrap());
    assert_eq!(press(&mut app, "d"), vec![Effect::Diff(original, replay)]);
    press(&mut app, " jjj ");
    assert_eq!(
        press(&mut app, "d"),
        vec![Effect::Diff(recs[0].id.to_u64().unwrap(), replay)]
    );
    press(&mut app, "\x1b/method:POST\n");
    let effects = press(&mut app, "xh");
    let all_posts: Vec<u64> = recs[..5].iter().map(|e| e.id.to_u64().unwrap()).collect();
    assert_eq!(
        effects,
        vec![Effect::Export(crate::export::Format::Har, all_posts)]
    );
    assert_eq!(press(&mut app, "q"), vec![Effect::Quit]);
}

#[test]
fn a_redelivery_is_marked_whichever_arrives_first() {
    let recs = records();
    let (app, _) = app_with(&recs, (120, 30));
    let marks: Vec<bool> = app.rows.iter().map(|r| r.redelivery).collect();
    assert_eq!(marks, [false, false, false, false, true, false]);
    // Pages arrive newest first: the later delivery is listed before the first one.
    let mut app = App::new(viewer_header(), (120, 30));
    app.update(Action::Committed(vec![super::app::Row::from_exchange(
        &recs[4],
    )]));
    let page = recs[..4]
        .iter()
        .rev()
        .map(super::app::Row::from_exchange)
        .collect();
    let effects = app.update(Action::Page {
        rows: page,
        last: false,
    });
    assert_eq!(
        effects,
        vec![Effect::LoadPage {
            before: recs[0].id.to_u64().unwrap()
        }]
    );
    let marks: Vec<bool> = app.rows.iter().map(|r| r.redelivery).collect();
    assert_eq!(marks, [false, false, false, false, true]);
}

#[test]
fn tabs_scroll_and_clicks() {
    let recs = records();
    let (mut app, effects) = app_with(&recs, (120, 30));
    load_detail(&mut app, &recs, &effects);
    press(&mut app, "\n\t\t");
    assert_eq!((app.focus, app.tab), (Focus::Detail, Tab::Signature));
    press(&mut app, "\x1b");
    assert_eq!(app.focus, Focus::List);
    // Row 3 of the list (inside the border at y=2) is list position 2.
    app.update(Action::Click(10, 5));
    assert_eq!(app.cursor, 2);
    assert!(!app.follow);
}

fn snapshot_app(size: (u16, u16)) -> App {
    let recs = records();
    let (mut app, _) = app_with(&recs, size);
    press(&mut app, "jjj");
    let view = ExchangeView::new(&recs[2]);
    app.update(Action::Detail(Arc::new(view)));
    app
}

#[test]
fn screen_list_and_request_tab_wide() {
    insta::assert_snapshot!(screen(&snapshot_app((120, 30))));
}

#[test]
fn screen_each_tab_stacked_at_80x24() {
    let mut app = snapshot_app((80, 24));
    insta::assert_snapshot!("request_80x24", screen(&app));
    for name in ["response", "signature_invalid_with_cause", "raw", "timing"] {
        app.update(Action::NextTab);
        insta::assert_snapshot!(name, screen(&app));
    }
}

#[test]
fn screen_filter_active_and_help() {
    let mut app = snapshot_app((120, 30));
    press(&mut app, "/method:POST status:4xx");
    insta::assert_snapshot!("filter", screen(&app));
    press(&mut app, "\n?");
    insta::assert_snapshot!("help", screen(&app));
}

#[test]
fn screen_binary_and_cut_bodies() {
    let mut bin = exchange(1, "POST", "/upload", Some(200));
    bin.request.headers[1].1 = b"application/octet-stream".to_vec();
    bin.request.body = Body::full((0u8..40).collect());
    let mut cut = exchange(2, "POST", "/big", Some(413));
    cut.request.body = Body {
        bytes: br#"{"items":[1,2,3"#.to_vec(),
        size: 12 * 1024 * 1024,
    };
    let mut app = App::new(viewer_header(), (100, 24));
    app.color = false;
    app.now_us = NOW;
    for ex in [&bin, &cut] {
        app.update(Action::Committed(vec![super::app::Row::from_exchange(ex)]));
        app.update(Action::Detail(Arc::new(ExchangeView::new(ex))));
        insta::assert_snapshot!(
            format!("body_{}", ex.request.uri.trim_start_matches('/')),
            screen(&app)
        );
    }
}

#[test]
fn a_notice_stands_on_the_status_line_until_a_status_replaces_it() {
    let (mut app, _) = app_with(&records(), (100, 24));
    let mut header = listen_header();
    header.notice = Some("demo: press r on the 500".into());
    app.update(Action::Header(header));
    let status_row = |app: &App| screen(app).lines().nth(22).unwrap_or_default().to_string();
    assert_eq!(status_row(&app), " demo: press r on the 500");
    app.update(Action::Status(
        super::app::Level::Done,
        "replayed: 200".into(),
    ));
    assert_eq!(status_row(&app), " replayed: 200");
}
