//! Image references compared by what they name, not how they are spelled. Docker lists a commit of
//! `jenv/x` as `jenv/x:TAG`; Podman qualifies short names and lists it as `docker.io/jenv/x:TAG`,
//! and an image it built or loaded without a registry as `localhost/x:TAG`.

use std::fmt;

/// A reference split into the parts jenv compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry and path in full: `docker.io/library/python`, `quay.io/jupyter/base-notebook`.
    pub name: String,
    /// `latest` when none is written, unless a digest pins the image.
    pub tag: Option<String>,
    /// `sha256:...`, kept as written.
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(text: &str) -> Reference {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_string())),
            None => (text, None),
        };
        // A tag follows the last `:` after the last `/`; an earlier `:` is a registry's port.
        let (name, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag.to_string())),
            _ => (rest, None),
        };
        let tag = tag.or_else(|| digest.is_none().then(|| "latest".to_string()));
        Reference { name: full_name(name), tag, digest }
    }

    /// Whether both name the same repository, whatever their tags.
    pub fn same_repository(&self, other: &Reference) -> bool {
        self.name == other.name
    }
}

/// The one form jenv compares: `docker.io/library/python:latest`, `docker.io/jenv/x:1`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// The tag of `repo_tag` (as an engine lists it) when it is a tag of `repository`.
pub fn tag_in(repo_tag: &str, repository: &str) -> Option<String> {
    let listed = Reference::parse(repo_tag);
    if listed.same_repository(&Reference::parse(repository)) { listed.tag } else { None }
}

/// The registry-qualified name, as Docker's reference parser completes it: a first component with
/// a `.` or `:` (or `localhost`) is a registry, anything else is on Docker Hub, where one-word names
/// live under `library/`.
fn full_name(name: &str) -> String {
    let (domain, path) = match name.split_once('/') {
        Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => (first, path.to_string()),
        _ => ("docker.io", name.to_string()),
    };
    let domain = match domain {
        "index.docker.io" => "docker.io",
        // Podman names what it built, committed or loaded without a registry `localhost/NAME`,
        // where Docker says `NAME`: the same image to jenv.
        "localhost" => "docker.io",
        other => other,
    };
    let path = if domain == "docker.io" && !path.contains('/') { format!("library/{path}") } else { path };
    format!("{domain}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize(text: &str) -> String {
        Reference::parse(text).to_string()
    }

    #[test]
    fn short_names_are_completed_as_docker_completes_them() {
        assert_eq!(normalize("jenv/x"), "docker.io/jenv/x:latest");
        assert_eq!(normalize("python"), "docker.io/library/python:latest");
        assert_eq!(normalize("python:3.12"), "docker.io/library/python:3.12");
        assert_eq!(normalize("docker.io/library/python:3.12"), "docker.io/library/python:3.12");
        assert_eq!(normalize("index.docker.io/jenv/x:1"), "docker.io/jenv/x:1");
        assert_eq!(normalize("quay.io/jupyter/base-notebook"), "quay.io/jupyter/base-notebook:latest");
    }

    #[test]
    fn ports_and_digests_are_kept() {
        assert_eq!(normalize("registry.local:5000/team/nb"), "registry.local:5000/team/nb:latest");
        assert_eq!(normalize("localhost:5000/nb:2"), "localhost:5000/nb:2");
        assert_eq!(normalize("jenv/x@sha256:abc"), "docker.io/jenv/x@sha256:abc");
        assert_eq!(normalize("jenv/x:1@sha256:abc"), "docker.io/jenv/x:1@sha256:abc");
    }

    #[test]
    fn podmans_spellings_name_the_same_images() {
        assert_eq!(normalize("docker.io/jenv/x:20260101-120000"), normalize("jenv/x:20260101-120000"));
        assert_eq!(normalize("localhost/jenv-test/notebook:bookworm"), normalize("jenv-test/notebook:bookworm"));
        assert_eq!(normalize("localhost/notebook"), normalize("notebook:latest"));
    }

    #[test]
    fn tags_of_a_repository_are_found_however_it_is_spelled() {
        assert_eq!(tag_in("jenv/x:1", "jenv/x").as_deref(), Some("1"));
        assert_eq!(tag_in("docker.io/jenv/x:1", "jenv/x").as_deref(), Some("1"));
        assert_eq!(tag_in("localhost/jenv/x:latest", "jenv/x").as_deref(), Some("latest"));
        assert_eq!(tag_in("jenv/x:1", "docker.io/jenv/x").as_deref(), Some("1"));
        assert_eq!(tag_in("jenv/xy:1", "jenv/x"), None);
        assert_eq!(tag_in("quay.io/jenv/x:1", "jenv/x"), None);
        assert_eq!(tag_in("<none>:<none>", "jenv/x"), None);
    }
}
