//! An image's config (user, environment, entrypoint, labels, healthcheck, volumes, ...), kept
//! whole as the engine gave it, so a commit or an import gives the new image all of it back.

use std::collections::HashMap;

use bollard::models::ContainerConfig;

/// An image's config, opaque but for the parts jenv reads or changes.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig(pub(super) bollard::models::ImageConfig);

impl ImageConfig {
    /// The user the image runs as (empty: root, or whatever the engine defaults to).
    pub fn user(&self) -> &str {
        self.0.user.as_deref().unwrap_or_default()
    }

    /// The image's variables, `NAME=value`.
    pub fn env(&self) -> &[String] {
        self.0.env.as_deref().unwrap_or_default()
    }

    pub fn entrypoint(&self) -> &[String] {
        self.0.entrypoint.as_deref().unwrap_or_default()
    }

    pub fn cmd(&self) -> &[String] {
        self.0.cmd.as_deref().unwrap_or_default()
    }

    pub fn labels_mut(&mut self) -> &mut HashMap<String, String> {
        self.0.labels.get_or_insert_with(HashMap::new)
    }

    /// The Dockerfile instructions that give an imported filesystem back this config.
    pub fn dockerfile_changes(&self) -> Vec<String> {
        dockerfile_changes(&self.0)
    }

    /// As the body of a commit.
    pub(super) fn into_container_config(self) -> ContainerConfig {
        container_config(self.0)
    }
}

fn container_config(config: bollard::models::ImageConfig) -> ContainerConfig {
    ContainerConfig {
        user: config.user,
        exposed_ports: config.exposed_ports,
        env: config.env,
        cmd: config.cmd,
        healthcheck: config.healthcheck,
        args_escaped: config.args_escaped,
        volumes: config.volumes,
        working_dir: config.working_dir,
        entrypoint: config.entrypoint,
        on_build: config.on_build,
        labels: config.labels,
        stop_signal: config.stop_signal,
        shell: config.shell,
        ..Default::default()
    }
}

/// The Dockerfile instructions that give an imported filesystem back its image config.
fn dockerfile_changes(config: &bollard::models::ImageConfig) -> Vec<String> {
    let mut changes = Vec::new();
    let json = |items: &Vec<String>| serde_json::to_string(items).expect("strings serialize");
    if let Some(user) = config.user.as_ref().filter(|u| !u.is_empty()) {
        changes.push(format!("USER {user}"));
    }
    if let Some(dir) = config.working_dir.as_ref().filter(|d| !d.is_empty()) {
        changes.push(format!("WORKDIR {dir}"));
    }
    for pair in config.env.iter().flatten() {
        if let Some((key, value)) = pair.split_once('=') {
            changes.push(format!("ENV {key}={}", quote(value)));
        }
    }
    if let Some(entrypoint) = &config.entrypoint {
        changes.push(format!("ENTRYPOINT {}", json(entrypoint)));
    }
    if let Some(cmd) = &config.cmd {
        changes.push(format!("CMD {}", json(cmd)));
    }
    for port in config.exposed_ports.iter().flatten() {
        changes.push(format!("EXPOSE {port}"));
    }
    let mut labels: Vec<_> = config.labels.iter().flatten().collect();
    labels.sort();
    for (key, value) in labels {
        changes.push(format!("LABEL {}={}", quote(key), quote(value)));
    }
    changes
}

/// A double-quoted instruction argument. Instructions are one per line, so a line break in a
/// value (a multi-line snapshot message) becomes a space.
fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_changes_keep_the_whole_config() {
        let config = bollard::models::ImageConfig {
            user: Some("jovyan".into()),
            working_dir: Some("/home/jovyan".into()),
            env: Some(vec!["PATH=/usr/bin:/bin".into(), "GREETING=say \"hi\"".into()]),
            entrypoint: Some(vec!["/usr/bin/tini".into(), "--".into()]),
            cmd: Some(vec!["jupyter".into(), "notebook".into()]),
            exposed_ports: Some(vec!["8888/tcp".into()]),
            labels: Some(HashMap::from([("jenv.name".to_string(), "x".to_string())])),
            ..Default::default()
        };
        assert_eq!(
            dockerfile_changes(&config),
            [
                "USER jovyan",
                "WORKDIR /home/jovyan",
                "ENV PATH=\"/usr/bin:/bin\"",
                "ENV GREETING=\"say \\\"hi\\\"\"",
                "ENTRYPOINT [\"/usr/bin/tini\",\"--\"]",
                "CMD [\"jupyter\",\"notebook\"]",
                "EXPOSE 8888/tcp",
                "LABEL \"jenv.name\"=\"x\"",
            ]
        );
    }
}
