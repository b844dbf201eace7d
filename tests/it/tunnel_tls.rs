//! HTTPS and WSS: a relay with a certificate made in the test, an agent trusting its CA.

use crate::common::tunnel as common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use hooktap::relay::{Auth, RelayConfig, tls};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

struct Pki {
    _dir: tempfile::TempDir,
    ca: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

fn make_pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let pki = Pki {
        ca: dir.path().join("ca.pem"),
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
        _dir: dir,
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, leaf.pem()).unwrap();
    std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
    pki
}

#[tokio::test]
async fn https_and_wss_with_a_certificate_made_in_the_test() {
    tokio::time::timeout(Duration::from_secs(60), async {
        let pki = make_pki();
        let mut app = start_app().await;
        let mut config = RelayConfig::new(Auth::new(&["t1".into()], None, false).unwrap());
        config.tls = Some(tls::server_config(&pki.cert, &pki.key).unwrap());
        let relay = start_relay("127.0.0.1:0", config).await;
        let port = relay.addr.port();
        let relay_url = format!("wss://localhost:{port}");

        // Without the CA the agent does not trust the relay, and says how to fix it.
        let store = memory_store();
        let untrusted = start_agent(
            agent_config(&relay_url, Some("t1"), Some("tls")),
            forwarder(app.addr, &store),
        )
        .await;
        match untrusted {
            Err(err) => assert!(err.to_string().contains("--relay-ca"), "{err}"),
            Ok(_) => panic!("a relay with an unknown CA must not be trusted"),
        }

        let mut agent_settings = agent_config(&relay_url, Some("t1"), Some("tls"));
        agent_settings.relay_ca = Some(pki.ca.clone());
        let mut records = store.subscribe();
        let agent = start_agent(agent_settings, forwarder(app.addr, &store))
            .await
            .unwrap();
        let public = format!("https://localhost:{port}/t/tls");
        assert_eq!(agent.tunnel.welcome.public_urls, vec![public.clone()]);

        // An HTTPS sender.
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&pki.ca).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
        let tcp = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
        let stream = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let request = http::Request::post("/t/tls/secure?x=1")
            .header("host", format!("localhost:{port}"))
            .body(Full::new(Bytes::from_static(b"over tls")))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.as_ref(), b"over tls");
        let seen = app.seen.recv().await.unwrap();
        assert_eq!(seen.headers["x-forwarded-proto"], "https");
        let record = records.recv().await.unwrap();
        assert_eq!(record.public_url, Some(format!("{public}/secure?x=1")));
        agent.stop().await;
        relay.stop().await;
    })
    .await
    .expect("the test finishes in time");
}
