//! `hooktap demo`: a relay, a session with its tunnel to it, the sample receiver behind
//! the session and the inspector on it, all in this process on 127.0.0.1; then signed
//! sample events sent to the relay's public URL. Files go to a temporary directory that
//! is removed on exit. `--no-tui` prints each event's log line and exits.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, anyhow};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::emit;
use crate::api::{ApiAddr, ApiConfig};
use crate::capture::ForwardConfig;
use crate::capture::Target;
use crate::cli::DemoArgs;
use crate::demo::{self, Receiver, Step};
use crate::events::deliver::{Answer, Outgoing, post};
use crate::exchange::{Exchange, unix_micros};
use crate::relay::{Auth, Relay, RelayConfig};
use crate::session::{ListenConfig, Session, TunnelStatus};
use crate::signature::Verifier;
use crate::store::Location;
use crate::tunnel::AgentConfig;

/// How long one event may take through the relay, the agent and the receiver, and then
/// to be recorded: everything is on this machine, so far more than enough.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `hooktap demo`.
pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let tui = args.wants_tui();
    let dir = tempfile::Builder::new()
        .prefix("hooktap-demo-")
        .tempdir()
        .context("could not make the demo's temporary directory")?;
    let dir_text = dir.path().display().to_string();
    if tui {
        // The inspector owns the screen: the log goes next to the store, and goes with it.
        if let Ok(file) = std::fs::File::create(dir.path().join("hooktap.log")) {
            crate::logging::init_file("warn", file);
        }
    } else {
        emit(
            format!(
                "hooktap demo: a relay, an agent and a sample app on 127.0.0.1; files in {dir_text} (removed on exit)\n"
            )
            .as_bytes(),
        )?;
    }
    let parts = Parts::start(dir.path()).await?;
    let result = if tui {
        with_inspector(&parts, &args, dir.path()).await
    } else {
        headless(&parts).await
    };
    parts.stop().await;
    dir.close()
        .with_context(|| format!("could not remove the demo's directory {dir_text}"))?;
    if !tui {
        emit(format!("hooktap demo: stopped; removed {dir_text}\n").as_bytes())?;
    }
    result
}

/// Everything the demo runs.
struct Parts {
    relay_addr: SocketAddr,
    receiver_addr: SocketAddr,
    public_url: String,
    verifier: Verifier,
    session: Session,
    shutdown: CancellationToken,
    relay: JoinHandle<()>,
    receiver: JoinHandle<()>,
}

impl Parts {
    /// Starts the relay, the receiver and the session (its store in `dir`), the session's
    /// tunnel online.
    async fn start(dir: &Path) -> anyhow::Result<Self> {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let shutdown = CancellationToken::new();
        let verifier = demo::verifier();
        let auth = Auth::new(&[demo::RELAY_TOKEN.to_string()], None, false)?;
        let relay = Relay::bind(loopback, RelayConfig::new(auth)).await?;
        let relay_addr = relay.local_addr()?;
        let relay = tokio::spawn(relay.run(shutdown.child_token()));
        let receiver = Receiver::bind(loopback, verifier.clone(), demo::FLAKY_PATH).await?;
        let receiver_addr = receiver.local_addr()?;
        let receiver = tokio::spawn(receiver.run(shutdown.child_token()));

        let mut agent = AgentConfig::new(format!("ws://{relay_addr}"));
        agent.token = Some(crate::secret::Secret::verbatim(demo::RELAY_TOKEN));
        agent.name = Some(demo::TUNNEL_NAME.to_string());
        let config = ListenConfig {
            forward: ForwardConfig {
                target: Target::parse(&format!("http://{receiver_addr}"))
                    .map_err(|e| anyhow!("{e}"))?,
                timeout: EVENT_TIMEOUT,
                capture_limit: 1 << 20,
            },
            respond: None,
            capture_addr: loopback,
            store: Location::File(dir.join("demo.db")),
            retain: crate::store::DEFAULT_RETAIN,
            retain_bytes: None,
            verifier: verifier.clone(),
            api: ApiConfig {
                addr: ApiAddr::Off,
                ..ApiConfig::default()
            },
            tunnel: Some(agent),
        };
        let session = Session::start(config).await?;
        let public_url = match &*session.tunnel().borrow() {
            TunnelStatus::Online { public_urls, .. } => public_urls.first().cloned(),
            _ => None,
        }
        .ok_or_else(|| anyhow!("the demo's tunnel did not come up"))?;
        Ok(Self {
            relay_addr,
            receiver_addr,
            public_url,
            verifier,
            session,
            shutdown,
            relay,
            receiver,
        })
    }

    /// `step` signed and posted to the relay's public URL.
    async fn send(&self, step: &Step) -> anyhow::Result<Answer> {
        let to = format!(
            "{}{}",
            self.public_url.trim_end_matches('/'),
            step.event.path
        );
        let now = unix_micros(SystemTime::now()).div_euclid(1_000_000);
        let signer = self.verifier.pinned(step.event.provider);
        let out = Outgoing::new(&step.event, None, &signer, Some(&to), now, step.mode)
            .map_err(|e| anyhow!(e))?;
        post(&out, EVENT_TIMEOUT, None).await
    }

    /// Stops the session (its records committed), then the receiver and the relay.
    async fn stop(self) {
        if let Err(err) = self.session.shutdown().await {
            tracing::warn!("{err:#}");
        }
        self.shutdown.cancel();
        let _ = self.receiver.await;
        let _ = self.relay.await;
    }
}

/// `--no-tui`: each event's log line and the receiver's answer, then the end.
async fn headless(parts: &Parts) -> anyhow::Result<()> {
    emit(
        format!(
            "hooktap demo: relay on http://{}, public URL {} → agent → sample app on http://{} (checks signatures; demo-only secrets)\n",
            parts.relay_addr, parts.public_url, parts.receiver_addr
        )
        .as_bytes(),
    )?;
    let mut committed = parts.session.committed();
    let interrupt = interrupted();
    tokio::pin!(interrupt);
    for step in demo::plan() {
        let done = async {
            let answer = parts.send(&step).await?;
            let exchange = next_record(&mut committed).await?;
            anyhow::Ok((answer, exchange))
        };
        let (answer, exchange) = tokio::select! {
            done = done => done.with_context(|| format!("sending {}", step.event.name))?,
            _ = &mut interrupt => return Ok(()),
        };
        let reply = String::from_utf8_lossy(&answer.body);
        let text = format!(
            "{}\n    {} ({}): the app answered {} {}\n",
            crate::output::log_line(&exchange),
            step.event.name,
            step.label,
            answer.status.as_u16(),
            reply.lines().next().unwrap_or_default()
        );
        emit(text.as_bytes())?;
    }
    emit(
        b"hooktap demo: the app's bug is fixed now. On a terminal, `hooktap demo` opens the inspector: r on the 500 replays it, s re-signs the invalid and expired ones, e edits one and sends it\n",
    )?;
    Ok(())
}

/// The inspector on the session, the events sent once it is up; until q.
async fn with_inspector(parts: &Parts, args: &DemoArgs, dir: &Path) -> anyhow::Result<()> {
    let plan = demo::plan();
    let (notice, notices) = watch::channel(Some(format!(
        "demo: sending {} signed events to {}…",
        plan.len(),
        parts.public_url
    )));
    let sending = async {
        for (i, step) in plan.iter().enumerate() {
            notice.send_replace(Some(format!(
                "demo: sending {}/{}: {} ({})…",
                i + 1,
                plan.len(),
                step.event.name,
                step.label
            )));
            if let Err(err) = parts.send(step).await {
                notice.send_replace(Some(format!(
                    "demo: could not send {}: {err:#}",
                    step.event.name
                )));
                return std::future::pending().await;
            }
        }
        notice.send_replace(Some(demo::TRY_NEXT.to_string()));
        std::future::pending::<()>().await
    };
    let options = crate::tui::Options {
        mouse: !args.no_mouse,
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let store = Location::File(dir.join("demo.db"));
    let inspector = super::listen_tui::inspect(&parts.session, store, options, Some(notices));
    tokio::select! {
        result = inspector => result,
        () = sending => Ok(()),
    }
}

/// The next committed record, within [`EVENT_TIMEOUT`].
async fn next_record(
    committed: &mut broadcast::Receiver<Arc<Exchange>>,
) -> anyhow::Result<Arc<Exchange>> {
    tokio::time::timeout(EVENT_TIMEOUT, committed.recv())
        .await
        .map_err(|_| anyhow!("the record did not arrive within {EVENT_TIMEOUT:?}"))?
        .context("the store stopped")
}

/// Ctrl-C or SIGTERM.
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
