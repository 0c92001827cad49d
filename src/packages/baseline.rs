//! A notebook's packages: what it has installed now, and what it had at its baseline (the image
//! it started from, or its last snapshot), so changes since then can be named.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::engine::Engine;
use crate::engine::helper::{self, with_helper};
use crate::engine::types::{Container, ExecTarget, StartError};
use crate::error::hinted;
use crate::packages::{self, Change, Installed};
use crate::state::files::write_atomic;
use crate::state::run_env::RunEnv;
use crate::state::{Loaded, StateDir, Sub};

/// Listings per image ID, kept in jenv's state: an image never changes, so neither does its listing.
pub struct Listings {
    dir: PathBuf,
}

impl Listings {
    pub fn new(state: &StateDir) -> Listings {
        Listings { dir: state.sub(Sub::Listings) }
    }

    pub fn load(&self, image_id: &str) -> Option<String> {
        fs::read_to_string(self.path(image_id)).ok()
    }

    pub fn save(&self, image_id: &str, listing: &str) -> Result<()> {
        fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomic(&self.path(image_id), listing.as_bytes())
    }

    fn path(&self, image_id: &str) -> PathBuf {
        self.dir.join(format!("{}.txt", image_id.trim_start_matches("sha256:")))
    }

    /// The site-packages folders of `image_id` as `user` sees them (see [`Packages::site_dirs`]).
    pub fn load_site_dirs(&self, image_id: &str, user: &str) -> Option<Vec<String>> {
        let text = fs::read_to_string(self.site_dirs_path(image_id, user)).ok()?;
        Some(text.lines().map(str::to_string).collect())
    }

    pub fn save_site_dirs(&self, image_id: &str, user: &str, dirs: &[String]) -> Result<()> {
        fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        write_atomic(&self.site_dirs_path(image_id, user), dirs.join("\n").as_bytes())
    }

    fn site_dirs_path(&self, image_id: &str, user: &str) -> PathBuf {
        let user: String = user.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        self.dir.join(format!("{}-{user}.dirs", image_id.trim_start_matches("sha256:")))
    }
}

/// The installed packages of one notebook (or of a helper started from one of its images), and
/// the changes since its baseline.
pub struct Packages<'a> {
    engine: &'a Engine,
    state: &'a StateDir,
    /// The environment's name: its state entry records the baseline.
    env: &'a str,
    /// Where the folder is mounted: packages installed from it are the folder's, not the image's.
    mount: &'a str,
    /// The notebook's container name, which its helper containers are named after.
    owner: String,
}

impl<'a> Packages<'a> {
    pub fn new(engine: &'a Engine, state: &'a StateDir, env: &'a str, mount: &'a str, owner: String) -> Packages<'a> {
        Packages { engine, state, env, mount, owner }
    }

    /// Lists the packages in the running container (removing pip's caches first if `clean`).
    pub async fn list(&self, container: &Container, clean: bool) -> Result<String> {
        let script = packages::listing_script(clean);
        let env = RunEnv::new(container.home.as_ref(), &container.name).exec_env()?;
        let (code, text) = self.engine.exec_capture(&container.exec_target(&env), &["sh", "-c", &script]).await?;
        if code != 0 {
            hinted!("cannot list the notebook's packages: {}", text.trim(); "check that the image has python3 and sh");
        }
        Ok(text)
    }

    /// The packages a listing names.
    pub fn installed(&self, listing: &str) -> Installed {
        packages::parse_listing(listing, self.mount)
    }

    /// Called as a notebook starts: its packages are its image's, unless the listing is known.
    pub async fn remember_image(&self, container: &Container) {
        let listings = Listings::new(self.state);
        if listings.load(&container.image_id).is_some() {
            return;
        }
        // Best effort: without it, changes are counted from a listing made on demand later.
        if let Ok(listing) = self.list(container, false).await {
            let _ = listings.save(&container.image_id, &listing);
        }
    }

    /// The image the container's changes are counted from.
    pub fn baseline_image(&self, container: &Container) -> String {
        let recorded = match self.state.read() {
            Loaded::Ok(state) => state.environments.get(self.env).and_then(|r| r.baseline.clone()),
            Loaded::Corrupt(_) => None,
        };
        recorded.unwrap_or_else(|| container.image_id.clone())
    }

    /// The baseline's packages: from the cache, else listed in a short-lived helper container.
    pub async fn baseline(&self, container: &Container) -> Result<(String, Installed)> {
        let image = self.baseline_image(container);
        let listing = self.image_listing(&image, container).await?;
        Ok((image, self.installed(&listing)))
    }

    /// The package listing of `image` as `container`'s notebook user sees it: from the cache,
    /// else listed in a short-lived helper container started from the image.
    pub async fn image_listing(&self, image: &str, container: &Container) -> Result<String> {
        self.listed_in_helper(image, &container.user, async |name: &str| {
            let helper_view = Container { id: name.to_string(), ..container.clone() };
            self.list(&helper_view, false).await
        })
        .await
    }

    /// The package listing of `image` as `user` sees it, for an image no notebook runs (a
    /// snapshot, a base image, a build): from the cache, else listed in a helper container.
    pub async fn image_listing_as(&self, image: &str, user: &str) -> Result<String> {
        self.listed_in_helper(image, user, async |name: &str| {
            let target = ExecTarget { container: name, user, env: &[] };
            let script = packages::listing_script(false);
            let (code, text) = self.engine.exec_capture(&target, &["sh", "-c", &script]).await?;
            if code != 0 {
                hinted!("cannot list the packages of {image}: {}", text.trim(); "check that the image has python3 and sh");
            }
            Ok(text)
        })
        .await
    }

    /// `image`'s listing from the cache, else `list` run in a helper started from it as `user`.
    async fn listed_in_helper(
        &self,
        image: &str,
        user: &str,
        list: impl AsyncFnOnce(&str) -> Result<String>,
    ) -> Result<String> {
        let listings = Listings::new(self.state);
        if let Some(listing) = listings.load(image) {
            return Ok(listing);
        }
        let mut helper =
            helper::idle_spec(helper::name(&self.owner, "list"), image, &self.state.root.display().to_string());
        helper.user = user.to_string();
        let listing = with_helper(self.engine, &helper, async |name: &str| {
            self.engine.start(name).await.map_err(StartError::into_error).context("cannot start a helper")?;
            list(name).await
        })
        .await?;
        listings.save(image, &listing)?;
        Ok(listing)
    }

    /// The folders whose modification time moves when a package is installed or removed: the
    /// Python path's folders outside the mounted one, and conda's metadata. They follow from the
    /// image and the user, so they are asked once and kept with the image's listing.
    pub async fn site_dirs(&self, container: &Container) -> Result<Vec<String>> {
        let listings = Listings::new(self.state);
        if let Some(dirs) = listings.load_site_dirs(&container.image_id, &container.user) {
            return Ok(dirs);
        }
        let script = "import site, sys; print('\\n'.join([p for p in sys.path if p] + [site.getusersitepackages()]))";
        let env = RunEnv::new(container.home.as_ref(), &container.name).exec_env()?;
        let (code, text) = self.engine.exec_capture(&container.exec_target(&env), &["python3", "-c", script]).await?;
        let mount = format!("{}/", self.mount.trim_end_matches('/'));
        let mut dirs: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|d| d.starts_with('/') && !d.ends_with(".zip") && !d.starts_with(&mount))
            .map(str::to_string)
            .collect();
        dirs.push("/opt/conda/conda-meta".into());
        dirs.dedup();
        if code == 0 {
            // Best effort: another user's state folder may not be ours to write.
            let _ = listings.save_site_dirs(&container.image_id, &container.user, &dirs);
        }
        Ok(dirs)
    }

    /// [`Packages::site_dirs`] when they are known without asking the container.
    pub fn cached_site_dirs(&self, container: &Container) -> Option<Vec<String>> {
        Listings::new(self.state).load_site_dirs(&container.image_id, &container.user)
    }

    /// The modification times of `dirs` (`None` for one that does not exist), asked of the
    /// engine together.
    pub async fn stamps(&self, container: &Container, dirs: &[String]) -> Result<Vec<Option<String>>> {
        let asked = dirs.iter().map(|dir| self.engine.path_mtime(&container.id, dir));
        futures_util::future::join_all(asked).await.into_iter().collect()
    }

    /// [`Packages::pending_changes`] only when it is cheap: the baseline's listing is in the
    /// cache (jenv keeps it from `up` and each snapshot), so no helper container is started.
    pub async fn pending_changes_if_cheap(&self, container: &Container) -> Result<Option<Vec<Change>>> {
        let Some(listing) = Listings::new(self.state).load(&self.baseline_image(container)) else { return Ok(None) };
        let before = self.installed(&listing);
        let after = self.installed(&self.list(container, false).await?);
        Ok(Some(packages::compare(&before, &after)))
    }

    /// Package changes in the running notebook since its baseline.
    pub async fn pending_changes(&self, container: &Container) -> Result<Vec<Change>> {
        if !container.is_running() {
            hinted!("the notebook is stopped, so its packages cannot be listed"; "start it with `jenv up`");
        }
        let (_, before) = self.baseline(container).await?;
        let after = self.installed(&self.list(container, false).await?);
        Ok(packages::compare(&before, &after))
    }
}
