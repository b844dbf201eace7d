//! `hooktap listen`'s headless frontend: a [`Session`], its lines (or NDJSON) on stdout,
//! until SIGINT (Ctrl-C) or SIGTERM. On a terminal the inspector is the frontend instead (`listen_tui.rs`).

use std::sync::Arc;

use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::emit;
use crate::cli::ListenArgs;
use crate::exchange::Exchange;
use crate::output;
use crate::session::{Session, TunnelStatus};

/// Runs `hooktap listen` until SIGINT (Ctrl-C) or SIGTERM, or the user quits the inspector.
pub async fn listen(args: ListenArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let store_file = config.store.clone();
    if super::listen_tui::wants_tui(&args) {
        // The inspector reads Ctrl-C as a key and stops on SIGTERM itself.
        let session = Session::start(config).await?;
        let result = super::listen_tui::run(&args, &session, store_file).await;
        session.shutdown().await?;
        return result;
    }
    // Installed before the session starts: a signal during startup or right after the
    // ready line stops it cleanly too.
    let stop = super::stop_signal()?;
    let mut session = Session::start(config).await?;
    let mut events = session.committed();
    let mut tunnel_events = session.take_tunnel_events();
    let (name, public_urls) = match &*session.tunnel().borrow() {
        TunnelStatus::Online { name, public_urls } => (name.clone(), public_urls.clone()),
        _ => Default::default(),
    };
    let capture_addr = session.capture_addr();
    let target = session.target().map(ToString::to_string);
    let respond = session.forwarder().answers().map(|r| r.status.as_u16());
    let api_addr = session.api_addr();
    if args.json {
        let ready = json!({
            "event": "ready",
            "capture_addr": capture_addr.to_string(),
            "target": target,
            "respond": respond,
            "public_url": public_urls.first(),
            "public_urls": public_urls,
            "api_addr": api_addr.map(|a| a.to_string()),
        });
        emit(format!("{ready}\n").as_bytes())?;
    } else {
        if !public_urls.is_empty() {
            emit(super::tunnel::url_lines(&name, &public_urls).as_bytes())?;
        }
        emit(
            format!(
                "hooktap: capturing on http://{capture_addr}, {}{}\n",
                session.destination(),
                api_addr.map_or_else(String::new, |a| format!(", API on http://{a}"))
            )
            .as_bytes(),
        )?;
    }

    // Lines go out from a thread of their own: a reader that stops reading must not stall
    // the deliveries.
    let printer = super::printer::Printer::stdout()?;
    // One stop listener for the whole loop: a new one per turn would miss a signal that
    // arrives while a turn's lines are being printed.
    tokio::pin!(stop);
    let result = loop {
        tokio::select! {
            () = &mut stop => break Ok(()),
            event = events.recv() => match event {
                Ok(exchange) => {
                    let text = waiting_lines(line(&exchange, args.json), &mut events, args.json);
                    if let Err(err) = printer.print(text) {
                        break Err(err.into());
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!("the output fell behind; {missed} requests not printed (they are recorded)");
                }
                Err(RecvError::Closed) => break Ok(()),
            },
            Some(event) = async {
                loop {
                    match tunnel_events.as_mut()?.recv().await {
                        Ok(event) => return Some(event),
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => {
                            tunnel_events = None;
                            return None;
                        }
                    }
                }
            } => {
                let line = if args.json {
                    super::tunnel::event_json(&event).to_string()
                } else {
                    super::tunnel::event_line(&event)
                };
                if let Err(err) = printer.print(format!("{line}\n")) {
                    break Err(err.into());
                }
                if let Some(err) = super::tunnel::fatal(&event) {
                    break Err(err);
                }
            }
        }
    };
    // Every part stops taking requests and finishes those in flight (the tunnel's too),
    // then the store commits their records: every exchange that reached the app is kept.
    session.shutdown().await?;
    // The last records' lines, then the end.
    let rest = waiting_lines(String::new(), &mut events, args.json);
    if !rest.is_empty() {
        let _ = printer.print(rest);
    }
    printer.finish();
    result
}

/// `text` and the lines of every event already waiting: printed in one write, one syscall
/// per burst instead of per request keeps the output up with the traffic.
fn waiting_lines(
    mut text: String,
    events: &mut tokio::sync::broadcast::Receiver<Arc<Exchange>>,
    json: bool,
) -> String {
    while let Ok(more) = events.try_recv() {
        text.push_str(&line(&more, json));
    }
    text
}

fn line(exchange: &Arc<Exchange>, json: bool) -> String {
    let mut line = if json {
        serde_json::to_string(&output::RequestEvent::new(exchange))
            .expect("an event always serialises")
    } else {
        output::log_line(exchange)
    };
    line.push('\n');
    line
}
