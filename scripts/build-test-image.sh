#!/usr/bin/env bash
# Builds the offline Jupyter image the integration tests and benchmarks use.
# No registry is needed: Debian packages are debootstrapped into a folder and imported.
# Idempotent: does nothing when the image already exists.
set -euo pipefail

IMAGE="${JENV_TEST_IMAGE:-jenv-test/notebook:bookworm}"
# debootstrap's own default mirror unless DEBIAN_MIRROR names one.
MIRROR=(${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"})

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "test image $IMAGE already present"
  exit 0
fi

if ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq debootstrap >/dev/null
fi

root=$(mktemp -d /var/tmp/jenv-image.XXXXXX)
cleanup() {
  for m in proc sys dev; do umount "$root/$m" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT

echo "debootstrapping bookworm into $root"
debootstrap --variant=minbase \
  --include=python3,python3-pip,python3-venv,tini,ca-certificates \
  bookworm "$root" "${MIRROR[@]}" >/dev/null

cp /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap cannot resolve the virtual dependencies of jupyter; apt inside the chroot can.
chroot "$root" /bin/sh -euc '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends jupyter-notebook python3-ipykernel >/dev/null
  apt-get clean
  rm -rf /var/lib/apt/lists/*
  useradd --create-home --uid 1000 --gid users --shell /bin/bash jovyan
  mkdir -p /home/jovyan/work
  chown -R jovyan:users /home/jovyan
  rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
'
: > "$root/etc/resolv.conf"

echo "importing $IMAGE"
tar -C "$root" -c . | docker import \
  -c 'USER jovyan' \
  -c 'WORKDIR /home/jovyan' \
  -c 'ENV HOME=/home/jovyan PATH=/home/jovyan/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'EXPOSE 8888' \
  -c 'ENTRYPOINT ["/usr/bin/tini", "--"]' \
  -c 'CMD ["jupyter", "notebook", "--ip=0.0.0.0", "--port=8888", "--no-browser"]' \
  - "$IMAGE" >/dev/null
echo "built $IMAGE"
