#!/usr/bin/env bash
# Build the execution environment image from execution-environment.yml with ansible-builder and
# podman, on this machine, with no container registry and no Galaxy server (what `make ee` and
# `make ee-smoke` call first; tests/ee/run.sh does the rest).
#
#   tests/ee/build.sh            build (layer cache kept: the "warm" build)
#   EE_COLD=1 tests/ee/build.sh  rebuild every layer (--no-cache: the "cold" build)
#
# 1. The base image: Debian bookworm from debootstrap with python3, pip, venv and the OpenSSH
#    client (molecule/images.sh with MOLECULE_IMAGE_INCLUDE), localhost/llmcloud-ee-base:bookworm.
#    ssh and ssh-agent are what ansible-runner needs to reach a fleet with a machine credential.
# 2. The collection tarball from this checkout (ansible-galaxy collection build).
# 3. A derived definition in build/ee-test/: execution-environment.yml as committed, except that
#    collections it names from a Galaxy server (ansible.windows) come from tarballs packed from the
#    pinned `ansible` package at the same version, and two options fit the Debian base (pip from
#    python3-pip, apt-get as package manager).
# 4. pip inside the build uses this machine's pip configuration (index, CA bundle) through files
#    mounted into the build's RUN steps only (podman build -v): nothing lands in the image layers
#    or in the repository.
# Prints "ee-build: <seconds> s" and the image size on its last lines.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
VENV=${VENV:-$root/.venv}
export PATH="$VENV/bin:$PATH"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/molecule/containers.conf}
export LLMCLOUD_CACHE_DIR=${LLMCLOUD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcloud-factory-droid}
export ANSIBLE_FORCE_COLOR=false NO_COLOR=1 PY_COLORS=0

EE_IMAGE=${EE_IMAGE:-localhost/llmcloud-factory-droid-ee:test}
EE_BASE_REPO=localhost/llmcloud-ee-base
EE_BASE_IMAGE=$EE_BASE_REPO:bookworm
# python3-pip and python3-venv: ansible-builder's scripts run pip; openssh-client: ssh, ssh-agent.
EE_BASE_PACKAGES=python3,python3-pip,python3-venv,openssh-client
work=$root/build/ee-test
log() { printf 'ee-build: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in ansible-builder ansible-galaxy python; do
  command -v "$tool" >/dev/null || die "$tool not found in $VENV/bin: run 'make venv' first"
done

t_base=$(date +%s)
MOLECULE_IMAGE_REPO=$EE_BASE_REPO MOLECULE_IMAGE_INCLUDE=$EE_BASE_PACKAGES molecule/images.sh bookworm
log "base image $EE_BASE_IMAGE ready in $(($(date +%s) - t_base)) s"

rm -rf "$work/context" "$work/new"
mkdir -p "$work/collections" "$work/new"
chmod 0700 "$work"

# The collection from this checkout. Two builds of the same files differ in their bytes (gzip and
# tar times), which would invalidate every image layer after the copy of the build context: keep
# the previous tarball when its MANIFEST.json (which holds the checksum of every file) is the same.
ansible-galaxy collection build --force --output-path "$work/new" . >/dev/null
python - "$work/new" "$work/collections" <<'EOF'
import glob, os, shutil, sys, tarfile

new_dir, dest_dir = sys.argv[1:]
(new,) = glob.glob(os.path.join(new_dir, "*.tar.gz"))
old = os.path.join(dest_dir, os.path.basename(new))

def manifest(path):
    with tarfile.open(path) as tar:
        return tar.extractfile("MANIFEST.json").read()

for stale in glob.glob(os.path.join(dest_dir, "llmcloud-factory_droid-*.tar.gz")):
    if stale != old:
        os.remove(stale)
if os.path.exists(old) and manifest(old) == manifest(new):
    os.remove(new)
else:
    shutil.move(new, old)
EOF
rm -rf "$work/new"

# The derived definition, and the tarballs of the collections it takes from the ansible package.
site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
python - "$root/execution-environment.yml" "$work" "$site" <<'EOF'
import glob, gzip, hashlib, io, json, os, sys, tarfile, yaml

source, work, site = sys.argv[1:]
with open(source, encoding="utf-8") as handle:
    ee = yaml.safe_load(handle)
ours = glob.glob(os.path.join(work, "collections", "llmcloud-factory_droid-*.tar.gz"))
assert len(ours) == 1, ours

def pack(fqcn, version=None):
    """Pack an installed collection of the pinned ansible package into a collection artifact.

    The PyPI package leaves out some files its FILES.json lists (CI folders and the like), so the
    artifact gets a FILES.json of the files present (each checked against its recorded checksum)
    and a MANIFEST.json pointing at it."""
    namespace, name = fqcn.split(".")
    folder = os.path.join(site, "ansible_collections", namespace, name)
    with open(os.path.join(folder, "MANIFEST.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    found = manifest["collection_info"]["version"]
    if version and found != str(version):
        sys.exit("ee-build: execution-environment.yml wants %s %s, the pinned ansible package has %s"
                 % (fqcn, version, found))
    with open(os.path.join(folder, "FILES.json"), encoding="utf-8") as handle:
        files = json.load(handle)
    present = []
    for entry in files["files"]:
        path = os.path.join(folder, entry["name"])
        if entry["ftype"] == "dir" and os.path.isdir(path):
            present.append(entry)
        elif entry["ftype"] == "file" and os.path.isfile(path):
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            if digest != entry["chksum_sha256"]:
                sys.exit("ee-build: %s differs from its FILES.json checksum" % path)
            present.append(entry)
    files["files"] = present
    files_json = json.dumps(files, indent=4).encode()
    manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_json).hexdigest()
    manifest_json = json.dumps(manifest, indent=4).encode()
    target = os.path.join(work, "collections", "%s-%s-%s.tar.gz" % (namespace, name, found))
    # gzip without a time stamp, members with their installed times: the same bytes every build.
    with gzip.GzipFile(target, "wb", mtime=0) as packed, tarfile.open(fileobj=packed, mode="w") as tar:
        for arcname, data in (("MANIFEST.json", manifest_json), ("FILES.json", files_json)):
            info = tarfile.TarInfo(arcname)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for entry in present:
            if entry["name"] != ".":
                tar.add(os.path.join(folder, entry["name"]), arcname=entry["name"], recursive=False)
    return {"name": "collections/" + os.path.basename(target), "type": "file"}

collections = []
for item in ee["dependencies"]["galaxy"]["collections"]:
    if item.get("type") == "file":
        assert os.path.basename(item["name"]) == os.path.basename(ours[0]), (item, ours)
        collections.append(item)
    else:
        collections.append(pack(item["name"], item.get("version")))
ee["dependencies"]["galaxy"]["collections"] = collections
wanted = {os.path.basename(item["name"]) for item in collections}
for stale in glob.glob(os.path.join(work, "collections", "*.tar.gz")):
    if os.path.basename(stale) not in wanted:
        os.remove(stale)
# A Debian base: pip comes from python3-pip (Debian's ensurepip is disabled for the system
# Python) and packages from apt-get (ansible-builder's scripts call "$PKGMGR clean all").
ee.setdefault("options", {}).update({"skip_pip_install": True, "package_manager_path": "/usr/bin/apt-get"})
ee["additional_build_files"] = [{"src": "collections/*.tar.gz", "dest": "collections"}]
with open(os.path.join(work, "execution-environment.yml"), "w", encoding="utf-8") as handle:
    handle.write("# Generated by tests/ee/build.sh from execution-environment.yml; do not edit.\n")
    yaml.safe_dump(ee, handle, sort_keys=False)
EOF

# pip's settings for the build, from this machine's configuration (never from the repository):
# the index, extra indexes that are URLs (local file: indexes do not exist in the build), trusted
# hosts and the CA bundle, which is mounted beside it.
ca_file=""
python - "$work/pip.conf" >"$work/pip-ca" <<'EOF'
import configparser, os, subprocess, sys

values = {}
listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                         text=True, check=True).stdout
for line in listing.splitlines():
    key, _, value = line.partition("=")
    section, _, option = key.rpartition(".")
    if section in ("global", "install", ":env:"):
        values[option] = value.strip().strip("'\"")
keep = {}
for option in ("index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout", "retries"):
    if values.get(option):
        urls = [u for u in values[option].split() if not u.startswith("file:")]
        if urls:
            keep["timeout" if option == "default-timeout" else option] = " ".join(urls)
cert = values.get("cert") or os.environ.get("REQUESTS_CA_BUNDLE") or ""
if cert and os.path.isfile(cert):
    keep["cert"] = "/etc/llmcloud-ee-build/ca.pem"
    print(cert)
parser = configparser.ConfigParser()
parser["global"] = keep
old = os.umask(0o077)
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    parser.write(handle)
os.umask(old)
EOF
ca_file=$(cat "$work/pip-ca")
build_volumes="-v $work/pip.conf:/etc/pip.conf:ro"
[ -z "$ca_file" ] || build_volumes+=" -v $ca_file:/etc/llmcloud-ee-build/ca.pem:ro"

cache_args=()
[ "${EE_COLD:-0}" = 1 ] && cache_args=(--no-cache)
log "ansible-builder build $EE_IMAGE${cache_args:+ (--no-cache)}"
start=$(date +%s)
if ! ansible-builder build --container-runtime podman -v 3 \
    --file "$work/execution-environment.yml" --context "$work/context" --tag "$EE_IMAGE" \
    --build-arg "EE_BASE_IMAGE=$EE_BASE_IMAGE" \
    --extra-build-cli-args "--pull=never --network=host $build_volumes" \
    "${cache_args[@]}" </dev/null >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log" >&2
  die "ansible-builder build failed; whole log in ${work#"$root"/}/build.log"
fi
elapsed=$(($(date +%s) - start))
size=$(podman image inspect --format '{{.Size}}' "$EE_IMAGE")
echo "ee-build: $elapsed s"
echo "ee-image: $EE_IMAGE $size bytes ($((size / 1000000)) MB)"
