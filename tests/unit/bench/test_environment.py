"""bench.environment.source_revision: the commit a results file names, in a clone and in a linked
work tree (`git worktree add`, where `.git` is a file), read from git's files."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.environment import source_revision


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_the_commit_is_read_in_a_clone_and_in_a_linked_work_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "one")
    first = git(repo, "rev-parse", "HEAD")
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))  # its HEAD: refs/heads/side
    git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    assert source_revision(repo / ".git") == git(repo, "rev-parse", "HEAD")
    assert source_revision(linked / ".git") == first
    git(repo, "pack-refs", "--all")  # the refs now only in packed-refs
    assert source_revision(linked / ".git") == first
    git(linked, "checkout", "-q", "--detach", "main")  # HEAD: a commit
    assert source_revision(linked / ".git") == git(repo, "rev-parse", "HEAD")
