"""The key ring that seals secrets on the `config.*` topics (AES-256-GCM, `cryptography`).

`PIPELINE_SECRET_KEYS` is `id:base64key,…` (32-byte keys): the first seals, every one opens, so a
new key goes first and the old ones stay until `pipeline secrets rotate` has re-sealed every record.
Without it a key is generated once into `PIPELINE_DATA_DIR/secret-keys` (with a warning: fine for
a laptop, not for production, where the key must live apart from the data and its backups). A
generated key's id is `local-<random hex>`, so processes that generated keys of their own (two data
dirs) are told apart by id: a process whose ring lacks the id a config record names refuses to start
(`pipeline.config.key_check`) instead of taking such a record for a missing one.

A sealed value is `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`; the associated data
names the record and the field, so a sealed value copied into another record or field does not
open. A value without the prefix is a record written before sealing: it is read as it is.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipeline.errors import PipelineError
from pipeline.settings import Settings, secret_key_entries

log = logging.getLogger(__name__)

PREFIX = "enc:v1:"
NONCE_BYTES = 12
KEY_FILE = "secret-keys"
GENERATED_ID_PREFIX = "local-"  # + random hex: two machines' generated keys never share an id
_warned: set[Path] = set()  # generated key files this process has warned about


class SealedValueError(PipelineError, ValueError):
    """A sealed value does not open: unknown key id, damaged, or moved to another record.

    A ValueError too, so that a view skips (and logs) such a record as any unreadable one.
    """

    code = "sealed_value"

    def __init__(self, message: str, key_id: str | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id  # the key the value names: which one this process lacks


@dataclass(frozen=True)
class KeyRing:
    """Key ids and AES-256 keys, the sealing one first. `repr` never shows a key."""

    keys: tuple[tuple[str, bytes], ...]

    def __repr__(self) -> str:
        return f"KeyRing(ids={[key_id for key_id, _ in self.keys]})"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.keys)

    @property
    def primary_id(self) -> str:
        return self.keys[0][0]

    @classmethod
    def ephemeral(cls) -> KeyRing:
        """A ring of one random key that lives as long as the process (unit tests)."""
        return cls((("ephemeral", AESGCM.generate_key(bit_length=256)),))

    def seal(self, plaintext: str, context: str) -> str:
        key_id, key = self.keys[0]
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, value: str, context: str) -> str:
        """The plaintext of a sealed value; a value written before sealing comes back as it is."""
        if not value.startswith(PREFIX):
            return value
        key_id, _, payload = value[len(PREFIX) :].partition(":")
        key = dict(self.keys).get(key_id)
        if key is None:
            raise SealedValueError(
                f"{context}: sealed with key {key_id!r}, not in this key ring", key_id
            )
        try:
            raw = base64.urlsafe_b64decode(payload)
            opened = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (binascii.Error, ValueError, InvalidTag):
            raise SealedValueError(
                f"{context}: the sealed value does not open with key {key_id!r} of this key ring",
                key_id,
            ) from None
        return opened.decode()

    def needs_resealing(self, value: str) -> bool:
        """True for a plain value, or one sealed under another key than the first."""
        return not value.startswith(f"{PREFIX}{self.primary_id}:")


def parse_key_ring(text: str, variable: str = "PIPELINE_SECRET_KEYS") -> KeyRing:
    """`id:base64key,…` → a key ring; a bad entry raises `ConfigError` without showing a key."""
    return KeyRing(secret_key_entries(text, variable))


def new_key_entry(key_id: str) -> str:
    """A fresh `id:base64key` entry (for `pipeline secrets new-key`)."""
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def key_ring_for(settings: Settings) -> KeyRing:
    """The key ring of a process: `PIPELINE_SECRET_KEYS`, else the data dir's generated key."""
    configured = settings.secret_keys.get_secret_value() if settings.secret_keys else None
    return load_key_ring(configured, settings.data_dir)


def load_key_ring(configured: str | None, data_dir: Path) -> KeyRing:
    """The configured ring, else the one in `data_dir` (generated the first time; a warning)."""
    if configured is not None:
        return parse_key_ring(configured)
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    if path not in _warned:  # once per process, however many parts of it load the ring
        _warned.add(path)
        log.warning(
            "PIPELINE_SECRET_KEYS is not set: secrets on Kafka are sealed with the key in %s, "
            "generated for this machine; not for production (set PIPELINE_SECRET_KEYS, back it "
            "up)",
            path,
        )
    return parse_key_ring(path.read_text(), variable=str(path))


def _create_key_file(path: Path) -> None:
    """Write a new key so that processes starting together all end up with the same one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(new_key_entry(GENERATED_ID_PREFIX + secrets.token_hex(4)) + "\n")
    try:
        # link() fails if the file exists: whoever linked first wins, the others read theirs.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
