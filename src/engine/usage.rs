//! What a running container uses: memory (without page cache, as `docker stats` counts it), CPU,
//! and how many of its processes the kernel killed for lack of memory.
//!
//! On an engine on this machine the figures come from the container's own cgroup files (v1 or
//! v2), found through its main process: two readings of the CPU counter half a second apart, for
//! every container at once. That is quicker than the engine's stats, which wait for two samples a
//! second apart per container. A killed kernel leaves the container running and `OOMKilled` false
//! (the server survives), but the cgroup counts it. On another machine's engine the figures come
//! from its stats API, and the kills from its `oom` events.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::query_parameters::{EventsOptions, StatsOptions};
use futures_util::StreamExt;
use futures_util::future::join_all;

use crate::engine::Engine;
use crate::engine::types::Container;

/// How long the CPU counter is watched for a percentage.
const CPU_WINDOW: Duration = Duration::from_millis(500);

/// One container's use of memory and CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Bytes in use, page cache that can be dropped excluded.
    pub memory_used: u64,
    /// The container's memory limit; `None` without one.
    pub memory_limit: Option<u64>,
    /// Percent of one CPU (200 = two CPUs busy), as `docker stats` shows it.
    pub cpu_percent: Option<f64>,
    /// Processes the kernel killed for lack of memory in the container since it started.
    pub oom_kills: Option<u64>,
}

impl Engine {
    /// The use of each of `containers` (`None` for one that does not run, or that the engine
    /// could not say for), in the same order. Without `cpu`, no CPU figure and no wait for one.
    pub async fn usage(&self, containers: &[&Container], cpu: bool) -> Vec<Option<Usage>> {
        let facts = join_all(containers.iter().map(|c| self.process_facts(c))).await;
        let local: Vec<Option<CgroupFiles>> = facts
            .iter()
            .zip(containers)
            .map(|(facts, container)| {
                let pid = facts.as_ref()?.pid?;
                (!self.endpoint.is_remote()).then(|| CgroupFiles::of_process(pid, &container.id)).flatten()
            })
            .collect();
        // Every local container's CPU counter is read at the start and the end of one window.
        let started = Instant::now();
        let first: Vec<Option<u64>> =
            local.iter().map(|files| if cpu { files.as_ref()?.cpu_nanos() } else { None }).collect();
        let remote =
            join_all(containers.iter().zip(&local).zip(&facts).map(|((container, files), facts)| async move {
                match (files, facts) {
                    (None, Some(facts)) => self.stats_usage(container, facts).await,
                    _ => None,
                }
            }));
        let window = if cpu { CPU_WINDOW } else { Duration::ZERO };
        let (remote, ()) = tokio::join!(remote, tokio::time::sleep(window));
        let elapsed = started.elapsed();
        local
            .iter()
            .zip(first)
            .zip(remote)
            .zip(&facts)
            .map(|(((files, first), remote), facts)| match files {
                Some(files) => files.usage(first, elapsed, facts.as_ref()?.memory_limit),
                None => remote,
            })
            .collect()
    }

    /// The main process and memory limit of a running container.
    async fn process_facts(&self, container: &Container) -> Option<ProcessFacts> {
        let inspected = self.docker.inspect_container(&container.id, None).await.ok()?;
        let state = inspected.state?;
        if state.running != Some(true) {
            return None;
        }
        let limit = inspected.host_config.and_then(|h| h.memory).filter(|m| *m > 0).map(|m| m as u64);
        Some(ProcessFacts { pid: state.pid.filter(|p| *p > 0).map(|p| p as u32), memory_limit: limit })
    }

    /// From the engine's stats (one sample, with the engine's previous one for CPU) and its
    /// `oom` events since the container was created.
    async fn stats_usage(&self, container: &Container, facts: &ProcessFacts) -> Option<Usage> {
        let options = StatsOptions { stream: false, one_shot: false };
        let stats = self.docker.stats(&container.id, Some(options)).next().await?.ok()?;
        let memory = stats.memory_stats?;
        let page_cache = memory.stats.as_ref().and_then(|s| s.get("total_inactive_file").or(s.get("inactive_file")));
        let used = memory.usage?.saturating_sub(page_cache.copied().unwrap_or(0));
        let cpu = match (stats.cpu_stats, stats.precpu_stats) {
            (Some(now), Some(before)) => {
                let busy = now.cpu_usage?.total_usage?.checked_sub(before.cpu_usage?.total_usage?)?;
                let system = now.system_cpu_usage?.checked_sub(before.system_cpu_usage?)?;
                let cpus = f64::from(now.online_cpus.unwrap_or(1));
                (system > 0).then(|| busy as f64 / system as f64 * cpus * 100.0)
            }
            _ => None,
        };
        Some(Usage {
            memory_used: used,
            memory_limit: facts.memory_limit,
            cpu_percent: cpu,
            oom_kills: self.oom_events(container).await,
        })
    }

    /// The engine's `oom` events for the container since it was created.
    async fn oom_events(&self, container: &Container) -> Option<u64> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
        let options = EventsOptions {
            since: Some(container.created.to_string()),
            until: Some(now.to_string()),
            filters: Some(HashMap::from([
                ("container".to_string(), vec![container.id.clone()]),
                ("event".to_string(), vec!["oom".to_string()]),
            ])),
        };
        let mut events = self.docker.events(Some(options));
        let mut count = 0;
        while let Some(event) = events.next().await {
            event.ok()?;
            count += 1;
        }
        Some(count)
    }
}

struct ProcessFacts {
    pid: Option<u32>,
    memory_limit: Option<u64>,
}

/// Where one container's cgroup files are, under cgroup v1 (a folder per controller) or v2 (one
/// folder).
#[derive(Debug, Clone, PartialEq, Eq)]
enum CgroupFiles {
    V1 { memory: PathBuf, cpuacct: PathBuf },
    V2 { dir: PathBuf },
}

impl CgroupFiles {
    /// The cgroup of process `pid`, if it is the container `id`'s (its path names the ID, as
    /// Docker's `/docker/ID` and `docker-ID.scope` and Podman's `libpod-ID` do): a process of
    /// the same number on another machine's engine is never taken for it.
    fn of_process(pid: u32, id: &str) -> Option<CgroupFiles> {
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let files = locate(&cgroups, &mounts)?;
        let named = match &files {
            CgroupFiles::V1 { memory, .. } => memory,
            CgroupFiles::V2 { dir } => dir,
        };
        named.to_string_lossy().contains(id).then_some(files)
    }

    fn cpu_nanos(&self) -> Option<u64> {
        match self {
            CgroupFiles::V1 { cpuacct, .. } => read(&cpuacct.join("cpuacct.usage"))?.trim().parse().ok(),
            CgroupFiles::V2 { dir } => Some(stat_value(&read(&dir.join("cpu.stat"))?, "usage_usec")? * 1000),
        }
    }

    /// Memory and kills now, and the CPU used since `first` (read `elapsed` ago).
    fn usage(&self, first: Option<u64>, elapsed: Duration, memory_limit: Option<u64>) -> Option<Usage> {
        let (used, oom_kills) = match self {
            CgroupFiles::V1 { memory, .. } => {
                let usage: u64 = read(&memory.join("memory.usage_in_bytes"))?.trim().parse().ok()?;
                let cache = stat_value(&read(&memory.join("memory.stat"))?, "total_inactive_file").unwrap_or(0);
                (usage.saturating_sub(cache), stat_value(&read(&memory.join("memory.oom_control"))?, "oom_kill"))
            }
            CgroupFiles::V2 { dir } => {
                let usage: u64 = read(&dir.join("memory.current"))?.trim().parse().ok()?;
                let cache = stat_value(&read(&dir.join("memory.stat"))?, "inactive_file").unwrap_or(0);
                (usage.saturating_sub(cache), stat_value(&read(&dir.join("memory.events"))?, "oom_kill"))
            }
        };
        let cpu = match (first, self.cpu_nanos()) {
            (Some(first), Some(now)) if !elapsed.is_zero() => {
                Some(now.saturating_sub(first) as f64 / elapsed.as_nanos() as f64 * 100.0)
            }
            _ => None,
        };
        Some(Usage { memory_used: used, memory_limit, cpu_percent: cpu, oom_kills })
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The folders of a process's cgroup, from its `/proc/PID/cgroup` and this process's
/// mountinfo: v1 when a `memory` and a `cpuacct` hierarchy are mounted, else the v2 one.
fn locate(cgroups: &str, mountinfo: &str) -> Option<CgroupFiles> {
    let mounts: Vec<Mount> = mountinfo.lines().filter_map(Mount::parse).collect();
    let path_of = |controller: &str| {
        cgroups.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers.split(',').any(|c| c == controller).then_some(path)
        })
    };
    let v1 = |controller: &str| {
        let mount = mounts.iter().find(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == controller))?;
        mount.join(path_of(controller)?)
    };
    if let (Some(memory), Some(cpuacct)) = (v1("memory"), v1("cpuacct")) {
        return Some(CgroupFiles::V1 { memory, cpuacct });
    }
    let unified = cgroups.lines().find_map(|line| line.strip_prefix("0::"))?;
    let mount = mounts.iter().find(|m| m.fstype == "cgroup2")?;
    Some(CgroupFiles::V2 { dir: mount.join(unified)? })
}

/// One line of `/proc/self/mountinfo`, the parts that place a cgroup hierarchy.
struct Mount<'a> {
    /// The folder of the hierarchy mounted here (`/` unless this is a cgroup namespace's view).
    root: &'a str,
    point: &'a str,
    fstype: &'a str,
    /// The superblock's options: for cgroup v1, the controllers.
    options: &'a str,
}

impl<'a> Mount<'a> {
    fn parse(line: &'a str) -> Option<Mount<'a>> {
        let (before, after) = line.split_once(" - ")?;
        let fields: Vec<&str> = before.split(' ').collect();
        let mut rest = after.split(' ');
        let fstype = rest.next()?;
        let options = rest.nth(1)?;
        Some(Mount { root: fields.get(3)?, point: fields.get(4)?, fstype, options })
    }

    /// Where cgroup `path` is under this mount; none when the mount does not show it.
    fn join(&self, path: &str) -> Option<PathBuf> {
        let relative = if self.root == "/" { Some(path) } else { path.strip_prefix(self.root) }?;
        Some(Path::new(self.point).join(relative.trim_start_matches('/')))
    }
}

/// The value of `key` in a `key value` per line file (memory.stat, cpu.stat, memory.events).
fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn cgroup_v1_with_separate_controllers() {
        let cgroups = "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n2:cpuacct:/docker/abc\n0::/\n";
        assert_eq!(
            locate(cgroups, MOUNTINFO_HYBRID),
            Some(CgroupFiles::V1 {
                memory: "/sys/fs/cgroup/memory/docker/abc".into(),
                cpuacct: "/sys/fs/cgroup/cpuacct/docker/abc".into()
            })
        );
    }

    #[test]
    fn cgroup_v1_with_joined_cpu_controllers() {
        let mounts = "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                      31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let cgroups = "5:cpu,cpuacct:/system.slice/docker-abc.scope\n3:memory:/system.slice/docker-abc.scope\n";
        assert_eq!(
            locate(cgroups, mounts),
            Some(CgroupFiles::V1 {
                memory: "/sys/fs/cgroup/memory/system.slice/docker-abc.scope".into(),
                cpuacct: "/sys/fs/cgroup/cpu,cpuacct/system.slice/docker-abc.scope".into()
            })
        );
    }

    #[test]
    fn cgroup_v2_and_a_namespaced_view() {
        let mounts = "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            locate("0::/system.slice/docker-abc.scope\n", mounts),
            Some(CgroupFiles::V2 { dir: "/sys/fs/cgroup/system.slice/docker-abc.scope".into() })
        );
        // Mounted from inside a cgroup namespace: the mount's root is cut from the path.
        let inside = "29 23 0:26 /user.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            locate("0::/user.slice/libpod-abc.scope\n", inside),
            Some(CgroupFiles::V2 { dir: "/sys/fs/cgroup/libpod-abc.scope".into() })
        );
        assert_eq!(locate("0::/elsewhere/x\n", inside), None);
    }

    #[test]
    fn values_of_stat_files() {
        let stat = "cache 100\ntotal_inactive_file 4096\ninactive_file 7\n";
        assert_eq!(stat_value(stat, "total_inactive_file"), Some(4096));
        assert_eq!(stat_value(stat, "inactive_file"), Some(7));
        assert_eq!(stat_value("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n", "oom_kill"), Some(2));
        assert_eq!(stat_value("usage_usec 1234\n", "usage"), None);
    }
}
