//! `hooktap listen`: the capture listener, the forwarder and the headless output.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{UsageError, emit, store_location};
use crate::capture::CaptureServer;
use crate::cli::ListenArgs;
use crate::exchange::Exchange;
use crate::forward::{ForwardConfig, Forwarder};
use crate::output;
use crate::respond::Respond;
use crate::store::{Options, Store};
use crate::target::Target;

/// Runs `hooktap listen` until Ctrl-C.
pub async fn listen(args: ListenArgs) -> anyhow::Result<()> {
    let target = args
        .target
        .as_deref()
        .map(Target::parse)
        .transpose()
        .map_err(|e| UsageError(e.to_string()))?;
    // No app: hooktap answers (replays name their own target, so the forwarder's is unused).
    let respond = target
        .is_none()
        .then(|| args.respond.clone().unwrap_or_default());
    let destination = match (&target, &respond) {
        (Some(target), _) => format!("forwarding to {target}"),
        (None, respond) => respond.as_ref().map(Respond::summary).unwrap_or_default(),
    };
    let verifier = args.secrets.verifier()?;
    let api_verifier = verifier.clone();
    let store = Store::open(Options {
        location: store_location(&args.store)?,
        retain: args.retain,
        retain_bytes: args.retain_bytes.map(|b| b as u64),
        verdict: Some(Arc::new(move |ex: &Exchange| {
            verifier.check_exchange(ex, None, None)
        })),
    })?;
    let mut forwarder = Forwarder::new(
        ForwardConfig {
            target: target
                .clone()
                .unwrap_or_else(|| Target::parse("80").expect("80 is a valid port")),
            timeout: args.timeout,
            capture_limit: args.capture_limit,
        },
        store.clone(),
    );
    if let Some(respond) = respond.clone() {
        forwarder = forwarder.answering(respond);
    }
    let server = CaptureServer::bind(args.capture_addr, forwarder.clone()).await?;
    let capture_addr = server.local_addr()?;
    let api =
        crate::api::bind_for_listen(&args.api, forwarder.clone(), api_verifier.clone()).await?;
    let api_addr = api.as_ref().map(|a| a.local_addr()).transpose()?;
    let mut events = store.subscribe();
    let shutdown = CancellationToken::new();
    let tui_forwarder = forwarder.clone();
    let tui_verifier = api_verifier.clone();
    let tunnel = super::tunnel::open(&args.tunnel, forwarder, shutdown.child_token()).await?;
    let (name, public_urls) = tunnel.as_ref().map_or_else(Default::default, |t| {
        (t.welcome.name.clone(), t.welcome.public_urls.clone())
    });
    let (mut tunnel_events, tunnel_task) = match tunnel {
        Some(t) => (Some(t.events), Some(t.task)),
        None => (None, None),
    };

    let tui = super::listen_tui::wants_tui(&args);
    if tui {
        // The inspector's header shows all of it.
    } else if args.json {
        let ready = json!({
            "event": "ready",
            "capture_addr": capture_addr.to_string(),
            "target": target.as_ref().map(Target::to_string),
            "respond": respond.as_ref().map(|r| r.status.as_u16()),
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
                "hooktap: capturing on http://{capture_addr}, {destination}{}\n",
                api_addr.map_or_else(String::new, |a| format!(", API on http://{a}"))
            )
            .as_bytes(),
        )?;
    }

    let server_task = tokio::spawn(server.run(shutdown.child_token()));
    let api_task = api.map(|api| tokio::spawn(api.run(shutdown.child_token())));
    if tui {
        let parts = super::listen_tui::Parts {
            store: store.clone(),
            forwarder: tui_forwarder,
            verifier: tui_verifier,
            capture_addr,
            target: target.map_or_else(|| destination.clone(), |t| t.to_string()),
            public_urls,
            tunnel: tunnel_events,
        };
        let result = super::listen_tui::run(&args, parts).await;
        shutdown.cancel();
        let _ = server_task.await;
        if let Some(task) = api_task {
            let _ = task.await;
        }
        if let Some(task) = tunnel_task {
            let _ = task.await;
        }
        store.flush().await?;
        return result;
    }
    // Lines go out from a thread of their own: a reader that stops reading must not stall
    // the deliveries.
    let printer = super::printer::Printer::stdout()?;
    // One Ctrl-C listener for the whole loop: a new one per turn would miss a signal that
    // arrives while a turn's lines are being printed.
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    let result = loop {
        tokio::select! {
            _ = &mut interrupt => break Ok(()),
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
            Some(event) = async { tunnel_events.as_mut()?.recv().await } => {
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
    shutdown.cancel();
    let _ = server_task.await;
    if let Some(task) = api_task {
        let _ = task.await;
    }
    if let Some(task) = tunnel_task {
        let _ = task.await;
    }
    store.flush().await?;
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
