//! The state file's view of the notebooks: their tokens and leases, read under the state lock
//! and rebuilt from the engine's labels when the file is corrupt.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::engine::types::Container;
use crate::state::{EnvState, Loaded, State, StateDir, StateLock};
use crate::ui::Console;

/// Each environment's token as the state file remembers it (empty when unreadable).
pub fn known_tokens(state: &StateDir) -> BTreeMap<String, String> {
    match state.read() {
        Loaded::Ok(s) => s.environments.into_iter().map(|(name, record)| (name, record.token)).collect(),
        Loaded::Corrupt(_) => BTreeMap::new(),
    }
}

/// The containers whose leases live in this state folder (tests and users may have several).
pub fn of_this_home(state: &StateDir, containers: &[Container]) -> Vec<Container> {
    let home = state.root.to_string_lossy();
    containers.iter().filter(|c| c.home == home).cloned().collect()
}

/// Reads the state under the lock. A corrupt file is rebuilt from the engine's labels (when the
/// caller has listed them) with a warning: the engine is the source of truth.
pub fn load_state(lock: &StateLock, engine_view: Option<&[Container]>, console: &Console) -> Result<State> {
    match lock.read() {
        Loaded::Ok(state) => Ok(state),
        Loaded::Corrupt(reason) => {
            console.warn(format_args!("{reason}; rebuilding it from the containers on the engine"));
            let state = rebuild_state(engine_view.unwrap_or_default());
            lock.write(&state)?;
            Ok(state)
        }
    }
}

/// A state that says what the engine says. Tokens cannot be read from list results, so they are
/// left empty here and recovered from the containers when needed.
fn rebuild_state(containers: &[Container]) -> State {
    let mut state = State::default();
    for container in containers {
        let record = EnvState {
            folder: container.folder.clone().into(),
            token: String::new(),
            ports: container.host_ports(),
            leased: true,
            baseline: Some(container.image_id.clone()),
        };
        state.environments.insert(container.name.clone(), record);
    }
    state
}

/// Leases whose container no longer exists are released (the ports stay as preferences).
pub fn reclaim_leases(state: &mut State, containers: &[Container]) {
    for (name, record) in state.environments.iter_mut() {
        if record.leased && !containers.iter().any(|c| &c.name == name) {
            record.leased = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::engine::types::{ContainerState, PublishedPort};

    fn container(name: &str, host: u16) -> Container {
        Container {
            id: format!("id-{name}"),
            name: name.into(),
            folder: format!("/p/{name}"),
            home: "/h".into(),
            state: ContainerState::Running,
            image: "img".into(),
            image_id: "sha256:1".into(),
            user: "1000:100".into(),
            mount: "/home/jovyan/work".into(),
            ports: BTreeMap::from([("jupyter".to_string(), PublishedPort { container: 8888, host })]),
            ui: "tree".into(),
            fingerprint: String::new(),
            created: 0,
        }
    }

    #[test]
    fn rebuilt_state_holds_the_engines_leases() {
        let state = rebuild_state(&[container("a", 8890), container("b", 8891)]);
        assert_eq!(state.leased_ports_except("none"), vec![8890, 8891]);
        assert_eq!(state.environments["a"].folder, Path::new("/p/a"));
    }

    #[test]
    fn leases_without_a_container_are_reclaimed() {
        let mut state = rebuild_state(&[container("a", 8890), container("gone", 8891)]);
        reclaim_leases(&mut state, &[container("a", 8890)]);
        assert!(state.environments["a"].leased);
        assert!(!state.environments["gone"].leased);
        assert_eq!(state.environments["gone"].ports["jupyter"], 8891, "kept as a preference");
    }
}
