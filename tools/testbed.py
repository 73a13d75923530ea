#!/usr/bin/env python3
"""Prepare the local test bed: a running Docker engine and the test host images.

No registry can be reached on the machines this project is tested on, so every image the
tests need is built here: the systemd test hosts from debootstrap, and the images derived
from them (testbed/images/*/Dockerfile). Each image carries the hash of its recipe in a
label and is rebuilt only when that hash changes.

    python3 tools/testbed.py engine    # make sure a Docker engine answers
    python3 tools/testbed.py build     # engine, then every image that is missing or stale
    python3 tools/testbed.py list      # the images and their recipe hashes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = ROOT / "testbed" / "images"
CACHE_DIR = ROOT / ".cache" / "testbed"
ARCHIVES_DIR = CACHE_DIR / "archives"
RECIPE_LABEL = "org.antone.testbed.recipe"
RECIPE_VERSION = "3"  # bump to rebuild every image after a change to this file's recipe logic
MIRROR = os.environ.get("ANTONE_TESTBED_MIRROR", "http://deb.debian.org/debian")

# Packages every systemd test host starts with; the roles install the rest themselves.
HOST_PACKAGES = (
    "python3",
    "systemd",
    "systemd-sysv",
    "dbus",
    "ca-certificates",
    "sudo",
    "iproute2",
    "procps",
)

# Units that must never run inside a test host: apt's periodic jobs hold the dpkg lock.
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily.service",
    "apt-daily-upgrade.timer",
    "apt-daily-upgrade.service",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "fstrim.timer",
    "getty@tty1.service",
)

APT_CONF = """\
// Test host: keep downloaded packages, so the shared cache mounted on
// /var/cache/apt/archives serves every later test host.
APT::Keep-Downloaded-Packages "true";
Binary::apt::APT::Keep-Downloaded-Packages "true";
APT::Install-Recommends "false";
Acquire::Retries "3";
"""

# A test host's /proc/sys is read-only (never privileged), so a nested engine cannot switch IPv6
# off on a container's interface; this lets it go on (a real host does not need it).
DOCKER_DROPIN = """\
[Service]
Environment=DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1
"""

DPKG_NODOC = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
"""


@dataclass(frozen=True)
class HostImage:
    """A systemd test host built from debootstrap."""

    name: str
    suite: str
    packages: tuple[str, ...] = HOST_PACKAGES

    def recipe(self) -> str:
        return recipe_hash(
            RECIPE_VERSION,
            self.suite,
            MIRROR,
            " ".join(self.packages),
            " ".join(MASKED_UNITS),
            APT_CONF,
            DPKG_NODOC,
            DOCKER_DROPIN,
        )


@dataclass(frozen=True)
class DerivedImage:
    """An image built from testbed/images/<dir>/Dockerfile on top of another test image."""

    name: str
    directory: Path
    parents: tuple[str, ...] = field(default_factory=tuple)
    archives: tuple[str, ...] = ()  # the archives under .cache/testbed/archives it is saved to, for test hosts

    def recipe(self, parent_recipes: list[str]) -> str:
        return recipe_hash(RECIPE_VERSION, *parent_recipes, *tree_digest(self.directory))


HOSTS = (
    HostImage("antone-testhost:debian13", "trixie"),
    HostImage("antone-testhost:debian12", "bookworm"),
)


def recipe_hash(*parts: str) -> str:
    """A short, stable hash of the parts that make up an image recipe."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def tree_digest(directory: Path) -> list[str]:
    """Each file below directory as 'relative path:sha256', sorted: the recipe of a build context."""
    entries = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        entries.append(f"{path.relative_to(directory)}:{hashlib.sha256(path.read_bytes()).hexdigest()}")
    return entries


def parse_from_lines(dockerfile: str) -> tuple[str, ...]:
    """The images a Dockerfile builds FROM, leaving out earlier stages and scratch."""
    stages: set[str] = set()
    parents: list[str] = []
    for line in dockerfile.splitlines():
        words = line.split()
        if len(words) < 2 or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        image = args[0]
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2].lower())
        if image != "scratch" and image.lower() not in stages and image not in parents:
            parents.append(image)
    return tuple(parents)


def derived_images() -> list[DerivedImage]:
    """Every image under testbed/images: the folder name is the image, image.json its options."""
    images = []
    for directory in sorted(p for p in IMAGES_DIR.iterdir() if (p / "Dockerfile").is_file()):
        options_file = directory / "image.json"
        options = json.loads(options_file.read_text()) if options_file.is_file() else {}
        images.append(
            DerivedImage(
                name=options.get("name", f"antone-test/{directory.name}:local"),
                directory=directory,
                parents=parse_from_lines((directory / "Dockerfile").read_text()),
                archives=archive_names(options.get("archive", False), directory.name),
            )
        )
    return images


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kwargs)


def quiet(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def engine_answers() -> bool:
    return shutil.which("docker") is not None and quiet(["docker", "info"]).returncode == 0


def apt_install(*packages: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env)


def ensure_engine(timeout: float = 90.0) -> None:
    """Start a Docker engine when none answers: Debian's docker.io, under systemd or by hand."""
    if engine_answers():
        return
    if shutil.which("dockerd") is None:
        apt_install("docker.io", "iptables")
    if Path("/run/systemd/system").is_dir():
        run(["systemctl", "start", "docker"])
    else:
        log = open("/var/log/antone-testbed-dockerd.log", "ab")  # noqa: SIM115 - outlives this process
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_answers():
            print("docker engine is running", flush=True)
            return
        time.sleep(1)
    sys.exit(f"testbed: the Docker engine did not answer within {timeout:.0f}s "
             "(see /var/log/antone-testbed-dockerd.log)")


def image_recipe(name: str) -> str | None:
    """The recipe label of a local image, or None when the image is missing."""
    result = quiet(["docker", "image", "inspect", "--format", "{{ json .Config.Labels }}", name])
    if result.returncode != 0:
        return None
    labels = json.loads(result.stdout) or {}
    return labels.get(RECIPE_LABEL)


def customise_rootfs(rootfs: Path) -> None:
    """What turns a debootstrap tree into a quiet systemd test host."""
    units = rootfs / "etc" / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    for unit in MASKED_UNITS:
        target = units / unit
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to("/dev/null")
    (rootfs / "etc/apt/apt.conf.d/90antone-testbed").write_text(APT_CONF)
    (units / "docker.service.d").mkdir(exist_ok=True)
    (units / "docker.service.d/90-antone-testbed.conf").write_text(DOCKER_DROPIN)
    (rootfs / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/dpkg/dpkg.cfg.d/90antone-nodoc").write_text(DPKG_NODOC)
    (rootfs / "etc/machine-id").write_text("")  # each container gets its own at boot
    (rootfs / "etc/hostname").unlink(missing_ok=True)
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def build_host(image: HostImage, recipe: str) -> None:
    if shutil.which("debootstrap") is None:
        apt_install("debootstrap")
    with tempfile.TemporaryDirectory(prefix="antone-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run([
            "debootstrap", "--variant=minbase", f"--include={','.join(image.packages)}",
            image.suite, str(rootfs), MIRROR,
        ])
        customise_rootfs(rootfs)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)
        run([
            "docker", "import",
            "-c", 'CMD ["/lib/systemd/systemd"]',
            "-c", "ENV container=docker",
            "-c", f"LABEL {RECIPE_LABEL}={recipe}",
            "-", image.name,
        ], stdin=tar.stdout)
        if tar.wait() != 0:
            sys.exit(f"testbed: packing {rootfs} failed")


def archive_names(option: bool | str | list[str], directory: str) -> tuple[str, ...]:
    """image.json's "archive": true saves the image alone (<dir>.tar), a name bundles every image
    that gives the same name into one archive (<name>.tar), so that shared layers travel once; a
    list of names puts the image in each (a scenario then loads one archive, not two)."""
    if option is True:
        return (directory,)
    if option is False or option == "":
        return ()
    names = option if isinstance(option, list) and option else [option]
    if not all(isinstance(n, str) and re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", n) for n in names):
        raise ValueError(f"testbed/images/{directory}/image.json: archive must be true, false, a file name or "
                         "a list of them")
    return tuple(names)


def archive_path(archive: str) -> Path:
    """Where an archive is saved for loading inside test hosts: busybox -> .cache/testbed/archives/busybox.tar."""
    return ARCHIVES_DIR / f"{archive}.tar"


def save_archive(archive: str, names: list[str], recipe: str) -> None:
    path = archive_path(archive)
    stamp = path.with_suffix(".recipe")
    if path.is_file() and stamp.is_file() and stamp.read_text() == recipe:
        return
    ARCHIVES_DIR.mkdir(parents=True, exist_ok=True)
    run(["docker", "save", "-o", str(path), *sorted(names)])
    stamp.write_text(recipe)


def archive_groups(images: list[DerivedImage]) -> dict[str, list[DerivedImage]]:
    """The images of each archive, by archive name."""
    groups: dict[str, list[DerivedImage]] = {}
    for image in images:
        for archive in image.archives:
            groups.setdefault(archive, []).append(image)
    return groups


def build_all(force: bool = False) -> None:
    ensure_engine()
    recipes: dict[str, str] = {}
    for host in HOSTS:
        recipe = host.recipe()
        recipes[host.name] = recipe
        if force or image_recipe(host.name) != recipe:
            build_host(host, recipe)
        else:
            print(f"{host.name}: up to date ({recipe})", flush=True)
    pending = derived_images()
    while pending:  # in dependency order: an image waits until its parents are built
        ready = [d for d in pending if all(p in recipes for p in d.parents)]
        if not ready:
            missing = {p for d in pending for p in d.parents if p not in recipes}
            sys.exit(f"testbed: unknown parent images {sorted(missing)}")
        for image in ready:
            recipe = image.recipe([recipes[p] for p in image.parents])
            recipes[image.name] = recipe
            if force or image_recipe(image.name) != recipe:
                run(["docker", "build", "-q", "--label", f"{RECIPE_LABEL}={recipe}",
                     "-t", image.name, str(image.directory)])
            else:
                print(f"{image.name}: up to date ({recipe})", flush=True)
            pending.remove(image)
    for archive, members in archive_groups(derived_images()).items():
        save_archive(archive, [m.name for m in members], recipe_hash(*(recipes[m.name] for m in members)))
    quiet(["docker", "image", "prune", "--force"])  # the untagged build stages


def list_images() -> None:
    for host in HOSTS:
        print(f"{host.name}\t{image_recipe(host.name) or 'missing'}")
    for image in derived_images():
        print(f"{image.name}\t{image_recipe(image.name) or 'missing'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("engine", "build", "list"))
    parser.add_argument("--force", action="store_true", help="rebuild every image")
    args = parser.parse_args(argv)
    if args.action == "engine":
        ensure_engine()
    elif args.action == "build":
        build_all(force=args.force)
    else:
        list_images()
    return 0


if __name__ == "__main__":
    sys.exit(main())
