//! Flattening a snapshot: its layers squashed into one, before overlayfs's limit on layers.

use anyhow::{Context, Result};

use crate::engine::helper::with_helper;
use crate::engine::image_config::ImageConfig;
use crate::notebook::Notebook;

/// Squashes `image` into a single layer under the same tag, keeping its config, and returns
/// the new image ID. The unflattened image is removed.
pub async fn flatten(nb: &Notebook, image: &str, tag: &str, config: &ImageConfig) -> Result<String> {
    let helper = nb.helper_spec(image, "flatten");
    let repository = &nb.project.manifest.repository;
    with_helper(&nb.engine, &helper, async |name: &str| {
        let spinner = nb.console.spinner("flattening the snapshot into one layer");
        let imported = nb.engine.import_filesystem(name, repository, tag, config.dockerfile_changes()).await;
        spinner.finish();
        imported
    })
    .await?;
    let reference = format!("{repository}:{tag}");
    let flat = nb.engine.inspect_image(&reference).await?.map(|i| i.id).context("the flattened image vanished")?;
    if flat != image {
        nb.engine.remove_image(image).await?;
    }
    Ok(flat)
}
