//! Schemes with no MAC, where a header carries the shared secret itself: GitLab's
//! `X-Gitlab-Token` and Okta's configured `Authorization` value. The body is not signed.

use crate::exchange::RecordedRequest;

use super::Verdict;
use super::ctx::{Ctx, SignError, set_header};
use super::mac::ct_eq;

/// The header carrying the token for `provider`.
pub fn header(provider: &str) -> &'static str {
    if provider == "okta" {
        "authorization"
    } else {
        "x-gitlab-token"
    }
}

/// Valid when the header equals the configured value (constant time). Neither value is
/// put in the verdict: both are the secret or a guess at it.
pub fn verify(ctx: &Ctx<'_>) -> Verdict {
    let name = header(ctx.provider);
    let Some(value) = ctx.req.header(name) else {
        return Verdict::missing(ctx.provider, name);
    };
    if ct_eq(value.trim(), ctx.secret.expose()) {
        Verdict::Valid {
            provider: ctx.provider.to_string(),
        }
    } else {
        Verdict::invalid(
            ctx.provider,
            Some(name),
            format!(
                "{name} does not equal the configured secret (the body is not signed; only the token is compared)"
            ),
        )
    }
}

/// Puts the configured token in the header.
pub fn sign(ctx: &Ctx<'_>, req: &mut RecordedRequest) -> Result<(), SignError> {
    set_header(req, header(ctx.provider), ctx.secret.expose());
    Ok(())
}
