//! A `listen` session driven in-process: its committed stream, its counts, its tunnel
//! watch through a relay that goes away and comes back, and a shutdown that keeps the
//! record of a request still in flight.

use crate::common::tunnel as common;

use std::time::Duration;

use common::*;
use hooktap::api::ApiConfig;
use hooktap::capture::ForwardConfig;
use hooktap::capture::Target;
use hooktap::relay::{Auth, RelayConfig};
use hooktap::session::{ListenConfig, Session, TunnelStatus};
use hooktap::signature::Verifier;
use hooktap::store::{Filter, Location};
use hooktap::tunnel::AgentConfig;
use tokio::sync::watch;

fn config(app: std::net::SocketAddr, tunnel: Option<AgentConfig>) -> ListenConfig {
    ListenConfig {
        respond: None,
        forward: ForwardConfig {
            target: Target::parse(&format!("http://{app}")).unwrap(),
            timeout: Duration::from_secs(10),
            capture_limit: 1 << 20,
        },
        capture_addr: "127.0.0.1:0".parse().unwrap(),
        store: Location::Memory,
        retain: 1000,
        retain_bytes: None,
        verifier: Verifier::default(),
        api: ApiConfig {
            addr: hooktap::api::ApiAddr::Off,
            ..ApiConfig::default()
        },
        tunnel,
    }
}

/// Waits (bounded) for the watch to hold a value `check` accepts.
async fn until<T: Clone>(rx: &mut watch::Receiver<T>, what: &str, check: impl Fn(&T) -> bool) -> T {
    tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|v| check(v)))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("the session is running")
        .clone()
}

#[tokio::test]
async fn a_session_streams_its_commits_and_counts_them() {
    let mut app = start_app().await;
    let session = Session::start(config(app.addr, None)).await.unwrap();
    assert_eq!(*session.tunnel().borrow(), TunnelStatus::Local);
    assert_eq!(session.api_addr(), None, "the API is off");
    let mut started = session.started();
    let mut committed = session.committed();
    let mut stats = session.stats();
    let url = format!("http://{}/hooks/a", session.capture_addr());

    let (status, _, body) = post(&client(), &url, "hello").await;
    assert_eq!((status.as_u16(), &body[..]), (200, &b"hello"[..]));
    assert_eq!(app.seen.recv().await.unwrap().uri, "/hooks/a");
    let begun = started
        .try_recv()
        .expect("the start was announced before the answer");
    assert_eq!(
        (begun.method.as_str(), begun.uri.as_str()),
        ("POST", "/hooks/a")
    );
    let exchange = tokio::time::timeout(Duration::from_secs(10), committed.recv())
        .await
        .expect("the commit is streamed")
        .unwrap();
    assert_eq!(
        (exchange.request.uri.as_str(), exchange.status()),
        ("/hooks/a", Some(200))
    );
    assert_eq!(
        exchange.id, begun.id,
        "the record follows under the announced id"
    );
    let counted = until(&mut stats, "one record counted", |s| s.records == 1).await;
    assert_eq!(
        (counted.failed, counted.invalid, counted.dropped),
        (0, 0, 0)
    );
    session.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_tunnel_watch_follows_the_relay_away_and_back() {
    let app = start_app().await;
    let auth = || Auth::new(&["t1".into()], None, false).unwrap();
    let relay = start_relay("127.0.0.1:0", RelayConfig::new(auth())).await;
    let addr = relay.addr.to_string();
    let agent = agent_config(&relay.url(), Some("t1"), Some("watched"));
    let session = Session::start(config(app.addr, Some(agent))).await.unwrap();
    let mut tunnel = session.tunnel();
    let online = tunnel.borrow_and_update().clone();
    let TunnelStatus::Online { name, public_urls } = online else {
        panic!("online after start: {online:?}");
    };
    assert_eq!(name, "watched");
    assert!(public_urls[0].ends_with("/t/watched"), "{public_urls:?}");

    relay.stop().await;
    let down = until(&mut tunnel, "the tunnel to drop", |s| !s.is_online()).await;
    assert!(
        matches!(
            down,
            TunnelStatus::Offline { .. } | TunnelStatus::Reconnecting { .. }
        ),
        "{down:?}"
    );

    let relay = start_relay(&addr, RelayConfig::new(auth())).await;
    until(
        &mut tunnel,
        "the tunnel to come back",
        TunnelStatus::is_online,
    )
    .await;
    let (status, _, _) = post(&client(), &relay.http("/t/watched/again"), "x").await;
    assert_eq!(status.as_u16(), 200);
    session.shutdown().await.unwrap();
    relay.stop().await;
}

#[tokio::test]
async fn shutdown_keeps_the_record_of_a_request_still_at_the_app() {
    let mut app = start_app().await;
    let session = Session::start(config(app.addr, None)).await.unwrap();
    let store = session.store().clone();
    let url = format!("http://{}/slow-one", session.capture_addr());
    let sender = tokio::spawn(async move { post(&client(), &url, "late").await });
    // The app has the request (it answers two seconds later) before the shutdown starts.
    assert_eq!(app.arrived.recv().await.unwrap(), "/slow-one");

    session.shutdown().await.unwrap();
    let (status, _, _) = sender.await.unwrap();
    assert_eq!(status.as_u16(), 200, "the sender got the app's answer");
    let kept = store.list(&Filter::default()).unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (kept[0].path.as_str(), kept[0].status),
        ("/slow-one", Some(200))
    );
}
