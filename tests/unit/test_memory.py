"""pipeline.memory: malloc's free pages go back to the system on glibc (this project's machines)."""

from __future__ import annotations

import platform

import pytest

from pipeline.memory import release_free_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_free_memory_is_released_on_glibc() -> None:
    garbage = [bytearray(4096) for _ in range(10_000)]  # 40 MiB in small blocks, then freed
    del garbage
    assert release_free_memory() is True
