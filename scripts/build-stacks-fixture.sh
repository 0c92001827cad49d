#!/usr/bin/env bash
# Builds jenv-fixture/base-notebook:bookworm, the registry-free stand-in for the Jupyter
# docker-stacks base-notebook image, with the shared fixture's own script (idempotent; about
# 4 minutes the first time). The fixture lives beside the repository in ../shared/fixtures;
# JENV_FIXTURES names another place.
set -euo pipefail
cd "$(dirname "$0")/.."

for fixtures in "${JENV_FIXTURES:-}" ../shared/fixtures /work/shared/fixtures; do
  if [ -n "$fixtures" ] && [ -x "$fixtures/docker-stacks/build.sh" ]; then
    exec "$fixtures/docker-stacks/build.sh"
  fi
done
echo "cannot find the docker-stacks fixture (docker-stacks/build.sh) in \$JENV_FIXTURES, ../shared/fixtures or /work/shared/fixtures" >&2
exit 1
