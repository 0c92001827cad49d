//! Which notebooks are idle: no busy kernel, and no activity (a person, a browser tab, a kernel)
//! for a while, as their Jupyter says when asked without counting as activity.

use std::collections::BTreeMap;

use futures_util::future::join_all;

use crate::engine::Engine;
use crate::engine::types::Container;
use crate::notebook::jupyter::Activity;
use crate::notebook::sample::activity_of;
use crate::ui::format::ago;
use crate::{clock, ui};

/// Whether a notebook counts as idle for `wanted` seconds, and for how long it has been.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idleness {
    /// Idle this many seconds (at least the wanted time).
    Idle(u64),
    /// Not idle, or not known to be: the reason, in words.
    Active(String),
}

/// Judges one notebook from what its Jupyter said (`None`: it did not answer), at `now`.
pub fn judge(activity: Option<&Activity>, now: u64, wanted: u64) -> Idleness {
    let Some(activity) = activity else {
        return Idleness::Active("Jupyter did not answer, so its activity is unknown".to_string());
    };
    if activity.busy > 0 {
        let s = if activity.busy == 1 { "" } else { "s" };
        return Idleness::Active(format!("{} busy kernel{s}", activity.busy));
    }
    let Some(last) = activity.last_activity.as_deref().and_then(clock::parse_rfc3339) else {
        return Idleness::Active("Jupyter gave no last activity".to_string());
    };
    let idle = now.saturating_sub(last);
    if idle >= wanted { Idleness::Idle(idle) } else { Idleness::Active(format!("active {}", ago(idle))) }
}

/// Each of `containers` judged, asked together.
pub async fn judge_all(
    engine: &Engine,
    tokens: &BTreeMap<String, String>,
    containers: &[Container],
    wanted: u64,
) -> Vec<Idleness> {
    let asked = join_all(containers.iter().map(|c| activity_of(engine, tokens, c))).await;
    let now = clock::now_secs();
    asked.iter().map(|activity| judge(activity.as_ref(), now, wanted)).collect()
}

/// `idle for 2 h`.
pub fn idle_words(secs: u64) -> String {
    format!("idle for {}", ui::format::span(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(busy: u32, last: &str) -> Activity {
        Activity { busy, idle: 1, last_activity: Some(last.to_string()) }
    }

    #[test]
    fn busy_kernels_and_recent_activity_keep_a_notebook() {
        let now = clock::parse_rfc3339("2026-11-30T12:00:00Z").unwrap();
        assert_eq!(judge(Some(&activity(0, "2026-11-30T10:00:00.5Z")), now, 3600), Idleness::Idle(7200));
        assert_eq!(
            judge(Some(&activity(1, "2026-11-30T10:00:00Z")), now, 3600),
            Idleness::Active("1 busy kernel".into())
        );
        assert_eq!(
            judge(Some(&activity(0, "2026-11-30T11:57:00Z")), now, 3600),
            Idleness::Active("active 3 min ago".into())
        );
        assert!(matches!(judge(None, now, 60), Idleness::Active(reason) if reason.contains("did not answer")));
        assert_eq!(idle_words(7200), "idle for 2 h");
        assert_eq!(idle_words(4), "idle for 4 s");
    }
}
