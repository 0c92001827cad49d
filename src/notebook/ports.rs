//! Choosing host ports: pure logic, so it is tested without an engine.
//!
//! For each container port the candidates are, in order: the host port the folder had before,
//! the container port itself (with jenv's default range, or when the chosen range holds it), then
//! every port of the range. The first that is free wins.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, TcpListener};

use anyhow::Result;

use crate::engine::types::Container;
use crate::error::Hinted;
use crate::manifest::user_config::{DEFAULT_RANGE, PortRange};
use crate::state::State;

/// Host ports no new lease may take: those leased to notebooks other than `except` (when the
/// state could be read) and those any container publishes, jenv's or not listed in the state.
pub fn taken(state: Option<&State>, containers: &[Container], except: &str) -> BTreeSet<u16> {
    let leased = state.map(|s| s.leased_ports_except(except)).unwrap_or_default();
    let published = containers.iter().flat_map(|c| c.ports.values().map(|port| port.host));
    leased.into_iter().chain(published).collect()
}

/// Picks a host port for each named container port.
///
/// `previous` holds the folder's earlier host ports, `taken` the ports leased by other
/// environments or known to be unusable, and `is_bindable` asks whether no other program holds
/// a port. Ports chosen for earlier names are not reused for later ones.
pub fn allocate(
    wanted: &BTreeMap<String, u16>,
    previous: &BTreeMap<String, u16>,
    taken: &BTreeSet<u16>,
    range: PortRange,
    mut is_bindable: impl FnMut(u16) -> bool,
) -> Result<BTreeMap<String, u16>> {
    let mut taken = taken.clone();
    let mut chosen = BTreeMap::new();
    for (name, &container_port) in wanted {
        // The container port itself (4040 for 4040) is a friendly default, but a range the user
        // chose is kept to.
        let own = (range == DEFAULT_RANGE || range.contains(container_port)).then_some(container_port);
        let candidates = previous.get(name).copied().into_iter().chain(own).chain(range.low..=range.high);
        let Some(port) = candidates.into_iter().find(|p| !taken.contains(p) && is_bindable(*p)) else {
            return Err(Hinted::new(
                format!("no free host port for `{name}` in {}-{}", range.low, range.high),
                "stop other notebooks with `jenv down`, or widen the range with JENV_PORT_RANGE=LOW-HIGH",
            )
            .into());
        };
        taken.insert(port);
        chosen.insert(name.clone(), port);
    }
    Ok(chosen)
}

/// True when no program on this host listens on 127.0.0.1:`port` (nor on all interfaces).
pub fn is_bindable(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANGE: PortRange = PortRange { low: 9000, high: 9005 };

    fn wanted(pairs: &[(&str, u16)]) -> BTreeMap<String, u16> {
        pairs.iter().map(|(n, p)| (n.to_string(), *p)).collect()
    }

    fn none() -> BTreeSet<u16> {
        BTreeSet::new()
    }

    #[test]
    fn previous_port_wins_when_free() {
        let got =
            allocate(&wanted(&[("jupyter", 8888)]), &wanted(&[("jupyter", 9003)]), &none(), RANGE, |_| true).unwrap();
        assert_eq!(got, wanted(&[("jupyter", 9003)]));
    }

    #[test]
    fn container_port_next_then_the_range() {
        let spark = wanted(&[("spark-ui", 4040)]);
        let got = allocate(&spark, &wanted(&[("spark-ui", 9003)]), &none(), DEFAULT_RANGE, |p| p != 9003).unwrap();
        assert_eq!(got, wanted(&[("spark-ui", 4040)]), "the default range still prefers the container port");
        let got = allocate(&spark, &BTreeMap::new(), &none(), DEFAULT_RANGE, |p| p != 4040).unwrap();
        assert_eq!(got, wanted(&[("spark-ui", 8888)]));
        let got = allocate(&wanted(&[("jupyter", 9004)]), &BTreeMap::new(), &none(), RANGE, |_| true).unwrap();
        assert_eq!(got, wanted(&[("jupyter", 9004)]), "inside a chosen range too");
    }

    #[test]
    fn a_chosen_range_is_kept_to() {
        let got = allocate(&wanted(&[("jupyter", 8888)]), &BTreeMap::new(), &none(), RANGE, |_| true).unwrap();
        assert_eq!(got, wanted(&[("jupyter", 9000)]));
    }

    #[test]
    fn leased_ports_are_skipped_even_if_bindable() {
        let taken = BTreeSet::from([8888, 9000, 9001]);
        let got = allocate(&wanted(&[("jupyter", 8888)]), &BTreeMap::new(), &taken, RANGE, |_| true).unwrap();
        assert_eq!(got, wanted(&[("jupyter", 9002)]));
    }

    #[test]
    fn two_names_never_share_a_port() {
        let got = allocate(&wanted(&[("a", 9000), ("b", 9000)]), &BTreeMap::new(), &none(), RANGE, |_| true).unwrap();
        assert_eq!(got, wanted(&[("a", 9000), ("b", 9001)]));
    }

    #[test]
    fn exhausted_range_says_what_to_do() {
        let err = allocate(&wanted(&[("jupyter", 8888)]), &BTreeMap::new(), &none(), RANGE, |_| false).unwrap_err();
        let hinted = err.downcast_ref::<Hinted>().unwrap();
        assert!(hinted.message.contains("9000-9005"), "{}", hinted.message);
        assert!(hinted.hint.contains("JENV_PORT_RANGE"));
    }

    #[test]
    fn a_held_port_is_not_bindable() {
        let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        assert!(!is_bindable(holder.local_addr().unwrap().port()));
    }
}
