//! Channel operations the JSON API and the dashboard share.

use crate::{AppState, credentials};
use clef_core::notification::ChannelKind;
use clef_core::{ChannelId, IntegrationId, Millis, OrgId};
use clef_store::{Actor, StoreError};

/// How long a replaced signing secret keeps signing unless the caller says otherwise.
pub const DEFAULT_OVERLAP_HOURS: u32 = 24;

/// The kind of a channel of the organisation's integration (its target is checked for it);
/// `None` when there is no such channel.
pub async fn kind_of(
    state: &AppState,
    org_id: &OrgId,
    integration_id: &IntegrationId,
    channel_id: &ChannelId,
) -> Result<Option<ChannelKind>, StoreError> {
    let channels = state.store.channels(org_id, integration_id).await?;
    Ok(channels.into_iter().find(|c| &c.id == channel_id).map(|c| c.kind))
}

/// Gives a webhook channel a new signing secret; the old one signs beside it for
/// `overlap_hours`. Returns the new secret (to show once) and the end of the overlap.
pub async fn rotate_secret(
    state: &AppState,
    actor: &Actor,
    integration_id: &IntegrationId,
    channel_id: &ChannelId,
    overlap_hours: u32,
) -> Result<(String, Millis), StoreError> {
    let until = actor.now + i64::from(overlap_hours) * 3_600_000;
    let secret = credentials::signing_secret();
    state.store.rotate_signing_secret(actor, integration_id, channel_id, secret.clone(), until).await?;
    Ok((secret, until))
}
