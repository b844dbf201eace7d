//! Who gets which tunnel name: the hello is checked against the protocol version, the
//! token (or anonymous resume key), the names the token may hold, who holds them now and
//! who owns them (the first holder, until an operator releases the name).

use super::Shared;
use super::auth::{self, AuthFailure, Fingerprint, Identity};
use super::names::Claim;
use super::peers::{Peer, Slot};
use crate::tunnel::protocol::{self as proto, AgentHello, RefusalReason, RelayRefusal};
use tracing::warn;

/// What the handshake settled.
pub struct Admission {
    /// The name the tunnel gets.
    pub name: String,
    /// Who holds it.
    pub owner: Fingerprint,
    /// For anonymous tunnels: the key to reclaim the name.
    pub resume_key: Option<String>,
    /// Requests queued for the name.
    pub queued: u64,
    /// For anonymous tunnels: the peer's share of anonymous tunnels, held while it is open.
    pub peer_slot: Option<Slot>,
}

/// A refusal with the relay's protocol version.
pub fn refusal(reason: RefusalReason, message: String) -> RelayRefusal {
    RelayRefusal {
        version: proto::PROTOCOL_VERSION,
        reason,
        message,
    }
}

/// Decides whether the agent behind `hello` and `bearer` gets a tunnel, and its name.
pub async fn admit(
    shared: &Shared,
    hello: &AgentHello,
    bearer: Option<&str>,
    peer: Peer,
) -> Result<Admission, RelayRefusal> {
    // A version 1 agent would answer queued requests without the commit trailer, so
    // each would be redelivered --queue-attempts times and dead-lettered: refused, with
    // the fix, like any other version.
    if hello.version != proto::PROTOCOL_VERSION {
        return Err(refusal(
            RefusalReason::VersionMismatch,
            proto::upgrade_message(hello.version),
        ));
    }
    let identity = shared
        .config
        .auth
        .identify(bearer)
        .map_err(|failure| match failure {
            AuthFailure::Missing => refusal(
                RefusalReason::BadToken,
                "the relay needs a token: pass --token or set HOOKTAP_TOKEN".into(),
            ),
            AuthFailure::Unknown => refusal(
                RefusalReason::BadToken,
                "the relay does not accept this token: check --token or HOOKTAP_TOKEN".into(),
            ),
        })?;
    let internal = |err: anyhow::Error| {
        warn!("{err:#}");
        refusal(
            RefusalReason::BadHello,
            "the relay could not look up the name; try again later".into(),
        )
    };
    let anonymous = matches!(identity, Identity::Anonymous);
    // The tokens file reserving the name for this token overrules an earlier owner.
    let mut reserved = false;
    let (name, owner, resume_key) = match identity {
        Identity::Anonymous => match (&hello.name, &hello.resume_key) {
            (Some(name), Some(key)) => {
                let owner = auth::fingerprint(key);
                match shared.queue.owner(name).await.map_err(internal)? {
                    Some(stored) if auth::same(&stored, &owner) => {}
                    Some(_) => return Err(anonymous_name_refusal()),
                    None => {
                        return Err(refusal(
                            RefusalReason::NameNotAllowed,
                            format!(
                                "the anonymous name '{name}' was released after it went unused: start hooktap listen again for a new name"
                            ),
                        ));
                    }
                }
                (name.clone(), owner, Some(key.clone()))
            }
            (Some(_), None) => return Err(anonymous_name_refusal()),
            (None, _) => {
                let key = hex::encode(rand::random::<[u8; 16]>());
                let owner = auth::fingerprint(&key);
                (
                    random_name(shared).await.map_err(internal)?,
                    owner,
                    Some(key),
                )
            }
        },
        Identity::Token { fingerprint, names } => {
            let name = match (&hello.name, &names) {
                (Some(name), _) if !proto::valid_name(name) => {
                    return Err(refusal(
                        RefusalReason::NameNotAllowed,
                        format!(
                            "'{name}' is not a valid tunnel name: use 1-63 of a-z, 0-9 and '-'"
                        ),
                    ));
                }
                (Some(name), Some(allowed)) if !allowed.contains(name) => {
                    return Err(refusal(
                        RefusalReason::NameNotAllowed,
                        format!(
                            "this token may not hold the name '{name}'; it may hold: {}",
                            allowed.join(", ")
                        ),
                    ));
                }
                (Some(name), _) => name.clone(),
                (None, Some(allowed)) => allowed.first().cloned().unwrap_or_default(),
                (None, None) => random_name(shared).await.map_err(internal)?,
            };
            if shared.config.auth.reserved_by_other(&name, &fingerprint) {
                return Err(taken(&name));
            }
            reserved = names
                .as_ref()
                .is_some_and(|allowed| allowed.contains(&name));
            (name, fingerprint, None)
        }
    };
    if shared.registry.held_by_other(&name, &owner) {
        return Err(taken(&name));
    }
    // Anonymous tunnels are limited per address; the stale session an agent replaces
    // when it reconnects does not count against it.
    let peer_slot = if anonymous {
        let limit = shared.config.limits.max_tunnels_per_peer;
        let replacing = shared
            .registry
            .get(&name)
            .is_some_and(|s| auth::same(&s.owner, &owner));
        match shared
            .anonymous_tunnels
            .try_take(peer, limit + usize::from(replacing))
        {
            Some(slot) => Some(slot),
            None => {
                return Err(refusal(
                    RefusalReason::PeerLimit,
                    format!(
                        "this address already has {limit} anonymous tunnels open on the relay: close one, or pass --token"
                    ),
                ));
            }
        }
    } else {
        None
    };
    // A name belongs to its first owner, live or not, until an operator releases it.
    let claim = shared.queue.claim(&name, owner, anonymous, reserved);
    match claim.await.map_err(internal)? {
        Claim::Granted => {}
        Claim::Taken { anonymous: true } => {
            return Err(refusal(
                RefusalReason::NameTaken,
                format!("the name '{name}' belongs to an anonymous tunnel: pick another --name"),
            ));
        }
        Claim::Taken { anonymous: false } => return Err(taken(&name)),
    }
    // Dead letters are kept aside: they do not make the tunnel drain.
    let queued = shared.queue.pending(&name).await.map_err(internal)?;
    Ok(Admission {
        name,
        owner,
        resume_key,
        queued,
        peer_slot,
    })
}

fn taken(name: &str) -> RelayRefusal {
    refusal(
        RefusalReason::NameTaken,
        format!("the name '{name}' is held by another token: pick another --name"),
    )
}

fn anonymous_name_refusal() -> RelayRefusal {
    refusal(
        RefusalReason::NameNotAllowed,
        "anonymous tunnels get random names: pass --token to choose a name".into(),
    )
}

async fn random_name(shared: &Shared) -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    loop {
        let name: String = (0..10)
            .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
            .collect();
        if shared.registry.get(&name).is_none() && shared.queue.owner(&name).await?.is_none() {
            return Ok(name);
        }
    }
}
