//! `jenv init --from-docker-run 'docker run ...'`: turns the alias line people used so far into
//! manifest settings. Flags jenv handles its own way (`--rm`, `-it`, `--name`, `--user`) are
//! dropped with a note; flags it cannot map are refused by name, never silently lost.

use std::path::Path;

use anyhow::Result;

use crate::error::{Hinted, hinted};
use crate::manifest::keys::{Gpus, MountSpec, PortSpec};
use crate::manifest::{DEFAULT_MOUNT, InitOptions};

/// The settings a `docker run` line maps to, and what the user should know about the mapping.
#[derive(Debug)]
pub struct Converted {
    pub options: InitOptions,
    pub notes: Vec<String>,
}

/// Spellings of "the current folder" in alias lines.
const CURRENT_FOLDER: &[&str] = &["$PWD", "${PWD}", "$(pwd)", "`pwd`", "."];

pub fn convert(line: &str, folder: &Path) -> Result<Converted> {
    let words = split_words(line)?;
    let args = strip_docker_run(&words)?;
    let mut converter = Converter { folder, options: InitOptions::default(), notes: Vec::new(), refused: Vec::new() };
    let mut rest = args.iter().map(String::as_str);
    while let Some(word) = rest.next() {
        if !word.starts_with('-') || word == "-" {
            converter.options.image = Some(word.to_string());
            let command: Vec<&str> = rest.collect();
            if !command.is_empty() {
                converter.refused.push(format!("the command `{}` after the image", command.join(" ")));
            }
            break;
        }
        let (flag, inline) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (word, None),
        };
        if other_value_flag(flag) {
            let value = inline.or_else(|| rest.next().map(str::to_string)).unwrap_or_default();
            converter.refused.push(format!("`{flag} {value}`"));
        } else if takes_value(flag) {
            let value = match inline {
                Some(value) => value,
                None => match rest.next() {
                    Some(value) => value.to_string(),
                    None => hinted!("`{flag}` has no value"; "give the flag its value"),
                },
            };
            converter.flag(flag, &value)?;
        } else {
            converter.switch(flag);
        }
    }
    converter.finish()
}

struct Converter<'a> {
    folder: &'a Path,
    options: InitOptions,
    notes: Vec<String>,
    refused: Vec<String>,
}

fn takes_value(flag: &str) -> bool {
    matches!(
        flag,
        "-p" | "--publish"
            | "-v"
            | "--volume"
            | "-e"
            | "--env"
            | "--env-file"
            | "--name"
            | "-w"
            | "--workdir"
            | "-m"
            | "--memory"
            | "--cpus"
            | "--shm-size"
            | "--gpus"
            | "-u"
            | "--user"
    )
}

/// `docker run` flags with a value that jenv has no key for: refused with their value, which
/// must not be mistaken for the image.
fn other_value_flag(flag: &str) -> bool {
    matches!(
        flag,
        "--network"
            | "--net"
            | "--mount"
            | "--device"
            | "--cap-add"
            | "--cap-drop"
            | "--security-opt"
            | "--ipc"
            | "--pid"
            | "--restart"
            | "--entrypoint"
            | "-l"
            | "--label"
            | "-h"
            | "--hostname"
            | "--add-host"
            | "--dns"
            | "--log-driver"
            | "--log-opt"
            | "--platform"
            | "--pull"
            | "--ulimit"
            | "--tmpfs"
            | "--group-add"
            | "--runtime"
            | "--userns"
            | "--memory-swap"
            | "--cpuset-cpus"
            | "--stop-signal"
            | "--link"
            | "--expose"
            | "--volumes-from"
            | "--cidfile"
            | "--uts"
            | "--sysctl"
            | "--storage-opt"
    )
}

impl Converter<'_> {
    fn switch(&mut self, flag: &str) {
        match flag {
            "-i" | "-t" | "-it" | "-ti" | "--interactive" | "--tty" | "--rm" | "-d" | "--detach" => {
                self.note_once("`-it`, `--rm` and `-d` are not needed: `jenv up` starts the notebook in the background, `jenv up --attach` follows its logs, `jenv down` removes it");
            }
            other => self.refused.push(format!("`{other}`")),
        }
    }

    fn flag(&mut self, flag: &str, value: &str) -> Result<()> {
        match flag {
            "-p" | "--publish" => self.publish(value),
            "-v" | "--volume" => self.volume(value),
            "-e" | "--env" => self.env(value),
            "--env-file" => self.options.env_file = Some(value.to_string()),
            "--name" => self.notes.push(format!(
                "`--name {value}` dropped: jenv names each folder's container itself, so two folders never clash"
            )),
            "-w" | "--workdir" => self.workdir(value),
            "-m" | "--memory" => self.options.resources.memory = Some(value.to_string()),
            "--cpus" => match value.parse() {
                Ok(cpus) => self.options.resources.cpus = Some(cpus),
                Err(_) => self.refused.push(format!("`--cpus {value}`")),
            },
            "--shm-size" => self.options.resources.shm_size = Some(value.to_string()),
            "--gpus" => self.options.resources.gpus = Some(parse_gpus(value)),
            "-u" | "--user" => self
                .notes
                .push(format!("`--user {value}` dropped: jenv runs the notebook as you, so files it writes are yours")),
            _ => unreachable!("takes_value lists only the flags handled here"),
        }
        Ok(())
    }

    /// `[IP:][HOST:]CONTAINER[/tcp]`, a container port or range: jenv publishes it on
    /// 127.0.0.1, on a host port it leases.
    fn publish(&mut self, value: &str) {
        let (spec, protocol) = value.split_once('/').unwrap_or((value, "tcp"));
        let container = spec.rsplit(':').next().unwrap_or(spec);
        let parsed = match container.parse::<u16>() {
            Ok(port) => Some(PortSpec::One(port)),
            Err(_) => Some(PortSpec::Range(container.to_string())),
        }
        .filter(|p| p.container_ports("port").is_ok());
        let Some(port) = parsed.filter(|_| protocol == "tcp") else {
            self.refused.push(format!("`-p {value}`"));
            return;
        };
        let first = port.container_ports("port").unwrap_or_default()[0];
        let name = match first {
            8888 => "jupyter".to_string(),
            4040 => "spark-ui".to_string(),
            other => format!("port-{other}"),
        };
        if spec.contains(':') {
            self.note_once(
                "ports are published on 127.0.0.1 only (not on every interface), each on a free host port jenv leases; `jenv status` shows which",
            );
        }
        if name != "jupyter" || port != PortSpec::One(8888) {
            self.options.ports.push((name, port));
        }
    }

    fn volume(&mut self, value: &str) {
        let parts: Vec<&str> = value.split(':').collect();
        let (source, target, mode) = match parts.as_slice() {
            [source, target] => (*source, *target, "rw"),
            [source, target, mode] => (*source, *target, *mode),
            _ => {
                self.refused.push(format!("`-v {value}`"));
                return;
            }
        };
        let source = source.replace("${HOME}", "~").replace("$HOME", "~");
        let is_folder = CURRENT_FOLDER.contains(&source.as_str()) || self.same_as_folder(&source);
        let main_taken = self.options.mount.is_some();
        if !main_taken && (is_folder || target == DEFAULT_MOUNT) {
            if !is_folder {
                self.notes.push(format!(
                    "`{source}` was mounted at {target}: jenv mounts the folder holding .jupyter-env ({}) there instead",
                    self.folder.display()
                ));
            }
            self.options.mount = Some(target.to_string());
            return;
        }
        let looks_like_path = source.starts_with(['/', '.', '~']);
        if source.contains('$') || !looks_like_path || !matches!(mode, "ro" | "rw") {
            self.refused.push(format!("`-v {value}` (write host folders as paths, not variables or named volumes)"));
            return;
        }
        self.options.mounts.push(MountSpec { source, target: target.to_string(), read_only: mode == "ro" });
    }

    fn same_as_folder(&self, source: &str) -> bool {
        let expanded = MountSpec { source: source.to_string(), target: "/".into(), read_only: true };
        expanded.source_path(self.folder) == self.folder
    }

    fn env(&mut self, value: &str) {
        match value.split_once('=') {
            Some((name, value)) => {
                self.note_once("`-e` values are written into .jupyter-env, which travels with the project: keep secrets in an env file (`env_file`) instead");
                self.options.env.push((name.to_string(), value.to_string()));
            }
            // `-e NAME` copies the host's value: writing it into the manifest would publish it.
            None => {
                self.refused.push(format!("`-e {value}` (it copies a value from your shell; put it in an env file)"))
            }
        }
    }

    fn workdir(&mut self, value: &str) {
        let is_mount = self.options.mount.as_deref() == Some(value) || CURRENT_FOLDER.contains(&value);
        if !is_mount && !self.same_as_folder(value) {
            self.notes.push(format!("`-w {value}` dropped: the notebook works in the mounted folder"));
        }
    }

    fn note_once(&mut self, note: &str) {
        if !self.notes.iter().any(|n| n == note) {
            self.notes.push(note.to_string());
        }
    }

    fn finish(self) -> Result<Converted> {
        if !self.refused.is_empty() {
            return Err(Hinted::new(
                format!("cannot convert {}: jenv has no equivalent", self.refused.join(", ")),
                "remove them from the line and run again; what jenv offers is in docs/manifest.md",
            )
            .into());
        }
        if self.options.image.is_none() {
            hinted!(
                "the line names no image";
                "end the line with the image, e.g. `docker run ... jupyter/all-spark-notebook`"
            );
        }
        Ok(Converted { options: self.options, notes: self.notes })
    }
}

/// `--gpus` as docker run takes it: `all`, a count, or `device=ID,ID`.
pub fn parse_gpus(value: &str) -> Gpus {
    let value = value.trim_matches('"');
    if let Some(ids) = value.strip_prefix("device=") {
        return Gpus::Devices(ids.split(',').map(str::to_string).collect());
    }
    match value.parse() {
        Ok(count) => Gpus::Count(count),
        Err(_) => Gpus::All(value.to_string()),
    }
}

/// The arguments after `docker run`, `podman run` or `docker container run`.
fn strip_docker_run(words: &[String]) -> Result<&[String]> {
    let names: Vec<&str> = words.iter().map(String::as_str).collect();
    let skip = match names.as_slice() {
        ["docker" | "podman", "run", ..] => 2,
        ["docker" | "podman", "container", "run", ..] => 3,
        _ => hinted!(
            "`{}` is not a `docker run` line",
            names.join(" ");
            "pass the whole line in quotes: jenv init --from-docker-run 'docker run -p 8888:8888 IMAGE'"
        ),
    };
    Ok(&words[skip..])
}

/// Splits a shell line into words: single and double quotes, backslash escapes, and the
/// backslash-newline continuations of multi-line aliases.
pub fn split_words(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(escaped) => {
                    word.push(escaped);
                    in_word = true;
                }
                None => {}
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => hinted!("the line has an unclosed ' quote"; "close the quote"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars.next().expect("peeked"))
                        }
                        Some(c) => word.push(c),
                        None => hinted!("the line has an unclosed \" quote"; "close the quote"),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::keys::Resources;

    const FOLDER: &str = "/home/ana/analysis";

    fn converted(line: &str) -> Converted {
        convert(line, Path::new(FOLDER)).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn refused(line: &str) -> String {
        format!("{}", convert(line, Path::new(FOLDER)).unwrap_err())
    }

    #[test]
    fn the_seeds_alias_lines_convert() {
        let seed = "docker run -it --rm -p 8888:8888 -p 4040:4040 -v /home/username/myworkfolder:/home/jovyan/work jupyter/all-spark-notebook";
        let out = converted(seed);
        assert_eq!(out.options.image.as_deref(), Some("jupyter/all-spark-notebook"));
        assert_eq!(out.options.ports, [("spark-ui".to_string(), PortSpec::One(4040))]);
        assert_eq!(out.options.mount.as_deref(), Some("/home/jovyan/work"));
        assert!(out.options.mounts.is_empty());
        let notes = out.notes.join("\n");
        assert!(notes.contains("127.0.0.1 only"), "{notes}");
        assert!(
            notes.contains("jenv mounts the folder holding .jupyter-env (/home/ana/analysis) there instead"),
            "{notes}"
        );

        let function = "docker run -it --rm \\\n  --name jupyter \\\n  -p 8888:8888 -p 4040:4040 \\\n  -v $curworkdir:$curworkdir \\\n  -w $curworkdir \\\n  myimprovedjupyterimage";
        let text = refused(function);
        assert!(text.contains("`-v $curworkdir:$curworkdir`"), "{text}");

        let pwd = converted(
            "docker run -it --rm --name jupyter -p 8888:8888 -v \"$PWD\":/home/jovyan/work -w /home/jovyan/work jupyter/scipy-notebook",
        );
        assert_eq!(pwd.options.mount.as_deref(), Some("/home/jovyan/work"));
        assert!(pwd.notes.iter().any(|n| n.contains("`--name jupyter` dropped")), "{:?}", pwd.notes);
        assert!(!pwd.notes.iter().any(|n| n.contains("-w")), "the workdir is the mount: {:?}", pwd.notes);
    }

    #[test]
    fn the_common_flags_map_to_manifest_keys() {
        let line = "docker run --rm -p 127.0.0.1:9999:8888 -p 4040-4042:4040-4042 -v ~/data:/data:ro -v ./out:/out \
            -e MODE=dev --env-file .env --memory 8g --cpus=2.5 --shm-size 1g --gpus all -u 1000 quay.io/jupyter/pytorch-notebook";
        let out = converted(line).options;
        assert_eq!(out.ports, [("spark-ui".to_string(), PortSpec::Range("4040-4042".into()))]);
        assert_eq!(
            out.mounts,
            [
                MountSpec { source: "~/data".into(), target: "/data".into(), read_only: true },
                MountSpec { source: "./out".into(), target: "/out".into(), read_only: false },
            ]
        );
        assert_eq!(out.env, [("MODE".to_string(), "dev".to_string())]);
        assert_eq!(out.env_file.as_deref(), Some(".env"));
        let resources = Resources {
            memory: Some("8g".into()),
            cpus: Some(2.5),
            shm_size: Some("1g".into()),
            gpus: Some(Gpus::All("all".into())),
        };
        assert_eq!(out.resources, resources);
        assert_eq!(parse_gpus("\"device=0,1\""), Gpus::Devices(vec!["0".into(), "1".into()]));
        assert_eq!(parse_gpus("2"), Gpus::Count(2));
    }

    #[test]
    fn unmappable_flags_are_refused_by_name() {
        let text = refused("docker run --privileged --network host -e SECRET -p 53:53/udp img");
        for named in ["`--privileged`", "`--network host`", "`-e SECRET`", "`-p 53:53/udp`"] {
            assert!(text.contains(named), "{named} in {text}");
        }
        assert!(refused("docker run -v data:/data img").contains("named volumes"));
        assert!(
            refused("docker run img jupyter lab --debug").contains("the command `jupyter lab --debug` after the image")
        );
        assert!(refused("docker ps").contains("is not a `docker run` line"));
        assert!(refused("docker run -it --rm").contains("names no image"));
        assert!(refused("docker run -p").contains("`-p` has no value"));
    }

    #[test]
    fn a_mount_on_a_system_folder_is_refused_as_in_the_manifest() {
        use crate::manifest::Manifest;
        let refusal = |line: &str| {
            let err = Manifest::for_folder(Path::new(FOLDER), converted(line).options).unwrap_err();
            let hint = err.downcast_ref::<Hinted>().map(|h| h.hint.clone()).unwrap_or_default();
            format!("{err}\nhint: {hint}")
        };
        let text = refusal("docker run -v $PWD:/etc img");
        assert_eq!(
            text,
            "`mount = \"/etc\"` lies over `/etc`, one of the image's system folders\n\
             hint: mount it under a home or data folder, e.g. `mount = \"/home/jovyan/work\"`"
        );
        let text = refusal("docker run -v ~/data:/usr/local/data:ro img");
        assert!(text.starts_with("[[mounts]] `target = \"/usr/local/data\"` lies in `/usr`"), "{text}");
    }

    #[test]
    fn words_split_like_a_shell() {
        let words = split_words("a 'b c' \"d \\\" e\" f\\ g \\\n h").unwrap();
        assert_eq!(words, ["a", "b c", "d \" e", "f g", "h"]);
        assert!(split_words("a 'b").is_err());
    }
}
