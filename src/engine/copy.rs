//! A copy of a local image with another config (its labels, say) and the very same layers, made
//! without a commit: `POST /images/load` of an archive that holds only the new image config and a
//! manifest naming its layers. Docker's loader reads a layer's file only when its store lacks
//! that layer, so the copy takes milliseconds, where a commit of an unchanged container compares
//! every file of the image on engines without overlay2's own diff (fuse-overlayfs: seconds).

use anyhow::Result;
use bollard::errors::Error as DockerError;
use bollard::models::{ImageHistoryResponseItem, ImageInspect};
use bollard::query_parameters::ImportImageOptions;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::clock;
use crate::engine::archive::files_tar;
use crate::engine::image_config::ImageConfig;
use crate::engine::{Engine, engine_message};

impl Engine {
    /// `image`, which this engine holds, with `config` instead of its own, named `repo:tag`;
    /// the copy's ID. `Ok(None)` where the engine cannot copy this way: Podman reads every layer
    /// from the archive, an engine may refuse an archive without them, and an image whose
    /// history does not tell which steps made its layers cannot be described. Commit a
    /// container of `image` then.
    pub async fn copy_with_config(
        &self,
        image: &str,
        config: ImageConfig,
        repo: &str,
        tag: &str,
    ) -> Result<Option<String>> {
        if self.podman {
            return Ok(None);
        }
        let failed = |e: DockerError| anyhow::anyhow!("cannot copy image {image}: {}", engine_message(&e));
        let inspected = self.docker.inspect_image(image).await.map_err(failed)?;
        let history = self.docker.image_history(image).await.map_err(failed)?;
        let Some(diff_ids) = inspected.root_fs.as_ref().and_then(|r| r.layers.clone()) else {
            return Ok(None);
        };
        let Some(steps) = history_of_layers(&history, diff_ids.len()) else {
            return Ok(None);
        };
        let name = format!("{repo}:{tag}");
        let image_config = serde_json::to_vec(&image_json(&inspected, config, &diff_ids, steps))?;
        // Layer paths the archive does not hold: the engine finds each layer in its store first.
        let layers: Vec<String> =
            diff_ids.iter().map(|id| format!("{}/layer.tar", id.trim_start_matches("sha256:"))).collect();
        let manifest = serde_json::to_vec(&json!([{ "Config": "config.json", "RepoTags": [name], "Layers": layers }]))?;
        let tar = files_tar(&[("config.json", &image_config), ("manifest.json", &manifest)])?;
        let options = ImportImageOptions { quiet: true, ..Default::default() };
        let mut stream = self.docker.import_image(options, bollard::body_full(tar.into()), None);
        while let Some(item) = stream.next().await {
            // An engine that wants every layer in the archive refuses it and loads nothing (not
            // seen here; Docker's containerd image store keeps layers apart from its own, so may).
            if item.is_err() {
                return Ok(None);
            }
        }
        Ok(self.inspect_image(&name).await?.map(|copy| copy.id))
    }
}

/// The image's history as its config records it, oldest step first, or `None` when its steps
/// that made a layer are not `layers` in number. The engine lists steps newest first, with a
/// size of 0 for those that made none; a layer of size 0 (deletions only) looks the same, and
/// then the count tells.
fn history_of_layers(history: &[ImageHistoryResponseItem], layers: usize) -> Option<Vec<Value>> {
    let steps: Vec<Value> = history
        .iter()
        .rev()
        .map(|step| {
            let mut entry = json!({
                "created": clock::rfc3339(u64::try_from(step.created).unwrap_or(0)),
                "created_by": step.created_by,
            });
            if !step.comment.is_empty() {
                entry["comment"] = json!(step.comment);
            }
            if step.size == 0 {
                entry["empty_layer"] = json!(true);
            }
            entry
        })
        .collect();
    let with_layer = steps.iter().filter(|s| s.get("empty_layer").is_none()).count();
    (with_layer == layers).then_some(steps)
}

/// The image config document (the OCI image config, as `docker save` writes it) of `inspected`
/// with `config` in place of its own. No `container_config`: that is the config of the container
/// a commit was made from, which a copy never had.
fn image_json(inspected: &ImageInspect, config: ImageConfig, diff_ids: &[String], history: Vec<Value>) -> Value {
    let mut document = json!({
        "architecture": inspected.architecture,
        "os": inspected.os,
        "created": inspected.created,
        "config": config.0,
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": history,
    });
    let optional = [
        ("variant", &inspected.variant),
        ("os.version", &inspected.os_version),
        ("author", &inspected.author),
        ("comment", &inspected.comment),
    ];
    for (key, value) in optional {
        if let Some(value) = value.as_ref().filter(|v| !v.is_empty()) {
            document[key] = json!(value);
        }
    }
    document
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(created: i64, size: i64, comment: &str) -> ImageHistoryResponseItem {
        ImageHistoryResponseItem {
            id: "<missing>".into(),
            created,
            created_by: format!("step at {created}"),
            tags: Vec::new(),
            size,
            comment: comment.into(),
        }
    }

    #[test]
    fn history_is_oldest_first_and_marks_steps_without_a_layer() {
        // As the engine lists it: newest first.
        let listed = [step(300, 12, "jenv snapshot"), step(200, 0, ""), step(100, 4096, "Imported from -")];
        let steps = history_of_layers(&listed, 2).unwrap();
        assert_eq!(steps[0]["created"], "1970-01-01T00:01:40Z");
        assert_eq!(steps[0]["comment"], "Imported from -");
        assert_eq!(steps[1]["empty_layer"], true);
        assert_eq!(steps[2]["created_by"], "step at 300");
        assert!(steps[2].get("empty_layer").is_none());
    }

    #[test]
    fn a_layer_of_size_zero_makes_the_history_unusable() {
        // Three layers, one of them only deletions (size 0): it cannot be told from a step without one.
        let listed = [step(300, 0, ""), step(200, 7, ""), step(100, 4096, "")];
        assert!(history_of_layers(&listed, 3).is_none());
    }

    #[test]
    fn the_document_carries_the_new_config_and_the_same_layers() {
        let inspected = ImageInspect {
            architecture: Some("amd64".into()),
            os: Some("linux".into()),
            comment: Some(String::new()),
            author: Some("ana".into()),
            ..Default::default()
        };
        let mut config = ImageConfig::default();
        config.labels_mut().insert("jenv.folder".into(), String::new());
        let document = image_json(&inspected, config, &["sha256:aa".into()], Vec::new());
        assert_eq!(document["config"]["Labels"]["jenv.folder"], "");
        assert_eq!(document["rootfs"]["diff_ids"][0], "sha256:aa");
        assert_eq!(document["author"], "ana");
        assert!(document.get("comment").is_none());
        assert!(document.get("container_config").is_none());
    }
}
