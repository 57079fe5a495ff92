"""``make release VERSION=x.y.z`` (scripts/release.sh) in a throwaway clone of this
repository: the real checkout's history, branches and tags are never touched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# The files under test, taken from the working tree (they may not be committed yet).
TOOLING = ("scripts/release.sh", "Makefile")
NOTES = "### Added\n- A feature worth a release.\n\n### Fixed\n- A bug.\n"


def git_env(home: Path) -> dict[str, str]:
    """Git with a known identity and none of the user's or the machine's configuration
    (a global tag.gpgSign or hooks path must not change what the test sees)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Release Test",
        GIT_AUTHOR_EMAIL="release-test@example.invalid",
        GIT_COMMITTER_NAME="Release Test",
        GIT_COMMITTER_EMAIL="release-test@example.invalid",
        LC_ALL="C.UTF-8",
    )
    return env


class Clone:
    """A clone of this repository in tmp_path, with the working tree's release tooling."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "clone"
        self.env = git_env(tmp_path)
        subprocess.run(
            ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(self.path)],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        for name in TOOLING:
            shutil.copy2(ROOT / name, self.path / name)
        if self.git("status", "--porcelain").strip():
            self.commit("Release tooling from the working tree")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout

    def commit(self, message: str) -> None:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--no-verify", "-m", message)

    def release(self, *args: str, make: bool = False) -> subprocess.CompletedProcess[str]:
        command = (
            ["make", "--no-print-directory", "release", *args]
            if make
            else ["bash", "scripts/release.sh", *args]
        )
        return subprocess.run(
            command,
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    @property
    def version(self) -> str:
        text = (self.path / "src" / "__init__.py").read_text(encoding="utf-8")
        match = re.search(r'^__version__ = "(\d+\.\d+\.\d+)"$', text, re.MULTILINE)
        assert match, text
        return match.group(1)

    def next_minor(self) -> str:
        """The next minor version that has no changelog section yet (the clone's
        CHANGELOG.md may already hold the notes of the release being prepared)."""
        major, minor, _ = (int(p) for p in self.version.split("."))
        text = (self.path / "CHANGELOG.md").read_text(encoding="utf-8")
        while f"## [{major}.{minor + 1}.0]" in text:
            minor += 1
        return f"{major}.{minor + 1}.0"

    def add_section(self, version: str, notes: str, date: str = "2026-12-01") -> None:
        """Put a ``## [version] — date`` section above the newest released one."""
        path = self.path / "CHANGELOG.md"
        text = path.read_text(encoding="utf-8")
        match = re.search(r"^## \[\d", text, re.MULTILINE)
        at = match.start() if match else len(text)
        section = f"## [{version}] — {date}\n\n{notes}\n"
        path.write_text(text[:at] + section + text[at:], encoding="utf-8")
        self.commit(f"Changelog for {version}")

    def state(self) -> tuple[str, str, str]:
        """HEAD, the tags and the status: what a refused release must leave alone."""
        return (
            self.git("rev-parse", "HEAD"),
            self.git("tag", "--list"),
            self.git("status", "--porcelain"),
        )


@pytest.fixture
def clone(tmp_path: Path) -> Clone:
    if shutil.which("git") is None or shutil.which("make") is None:
        pytest.skip("git and make are needed")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    return Clone(tmp_path)


def test_release_bumps_commits_and_tags(clone: Clone) -> None:
    before = clone.version
    version = clone.next_minor()
    clone.add_section(version, NOTES)
    head = clone.git("rev-parse", "HEAD")

    dry = clone.release("--dry-run", version)
    assert dry.returncode == 0, dry.stderr
    assert "### Added" in dry.stdout and clone.git("rev-parse", "HEAD") == head

    done = clone.release(f"VERSION={version}", make=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Released {version} ({before} → {version})" in done.stdout
    assert clone.version == version
    assert clone.git("log", "-1", "--format=%s").strip() == f"Release {version}"
    assert clone.git("rev-parse", "HEAD~1") == head
    assert clone.git("show", "--name-only", "--format=", "HEAD").split() == [
        "src/__init__.py"
    ]
    assert clone.git("status", "--porcelain") == ""
    # an annotated tag on the release commit, the changelog section as its message
    assert clone.git("cat-file", "-t", f"v{version}").strip() == "tag"
    assert clone.git("rev-parse", f"v{version}^{{commit}}") == clone.git(
        "rev-parse", "HEAD"
    )
    message = clone.git("tag", "-l", "--format=%(contents)", f"v{version}")
    assert message.startswith(f"PolyFlup {version} — 2026-12-01\n\n")
    assert NOTES.strip() in message  # "### …" lines kept verbatim
    assert "## [" not in message  # only this version's section
    # `polyflup --version` of the clone's code says so too
    shown = subprocess.run(
        [sys.executable, "-c", "from src.cli import main; main()", "--version"],
        cwd=clone.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.stdout.strip() == f"polyflup, version {version}"
    # and the same version cannot be released twice
    again = clone.release(version)
    assert again.returncode == 1 and "not greater" in again.stderr


def test_dirty_tree_is_refused(clone: Clone) -> None:
    version = clone.next_minor()
    clone.add_section(version, NOTES)
    readme = clone.path / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nedited\n", encoding="utf-8")
    before = clone.state()
    refused = clone.release(version)
    assert refused.returncode == 1
    assert "working tree is not clean" in refused.stderr and "README.md" in refused.stderr
    assert clone.state() == before
    # untracked files count too
    clone.git("checkout", "--", "README.md")
    (clone.path / "stray.txt").write_text("x", encoding="utf-8")
    refused = clone.release(version)
    assert refused.returncode == 1 and "stray.txt" in refused.stderr
    assert clone.git("tag", "--list") == before[1]


def test_missing_or_empty_changelog_section_is_refused(clone: Clone) -> None:
    version = clone.next_minor()
    before = clone.state()
    missing = clone.release(f"VERSION={version}", make=True)
    assert missing.returncode != 0
    assert f"CHANGELOG.md has no '## [{version}] — YYYY-MM-DD' section" in missing.stderr
    assert "[Unreleased]" in missing.stderr  # says what to do
    assert clone.state() == before

    clone.add_section(version, "")
    empty = clone.release(version)
    assert empty.returncode == 1 and "has no notes" in empty.stderr
    assert clone.version != version

    bad = f"{version[:-1]}1"  # x.y.1: a heading in another form
    clone.add_section(bad, NOTES, date="1 Dec 2026")
    wrong = clone.release(bad)
    assert wrong.returncode == 1 and "must read" in wrong.stderr


def test_version_not_greater_or_not_semver_is_refused(clone: Clone) -> None:
    current = clone.version
    major, minor, patch = (int(p) for p in current.split("."))
    lower = f"{major}.{minor}.{patch - 1}" if patch else f"{major}.{max(minor - 1, 0)}.9"
    for version in (current, lower):
        clone.add_section(version, NOTES)
        before = clone.state()
        refused = clone.release(version)
        assert refused.returncode == 1, version
        assert f"not greater than the current version {current}" in refused.stderr
        assert clone.state() == before
    for version in ("v1.2.3", "1.2", "1.02.3", "1.2.3-rc.1", ""):
        usage = clone.release(version)
        assert usage.returncode == 2, version
    no_version = clone.release(make=True)
    assert no_version.returncode != 0 and "give the version" in no_version.stderr
    assert clone.version == current


def test_versions_compare_numerically(clone: Clone) -> None:
    """0.10.0 > 0.9.3, and 0.9.4 < 0.10.0: numbers, not strings."""
    (clone.path / "src" / "__init__.py").write_text(
        '"""PolyFlup."""\n\n__version__ = "0.9.3"\n', encoding="utf-8"
    )
    clone.add_section("0.10.0", NOTES)
    done = clone.release("0.10.0")
    assert done.returncode == 0, done.stderr
    assert clone.version == "0.10.0"
    clone.add_section("0.9.4", NOTES)
    assert clone.release("0.9.4").returncode == 1
