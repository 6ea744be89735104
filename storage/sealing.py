"""ID numbers sealed at rest: `[security] data_key` (issue 15 item 9, docs/SECURITY.md).

A column of type `SealedText` stores `fernet:<key id>:<Fernet token>` when its engine was given
data keys (`use_data_keys`), and decrypts on read; without keys it stores plain text, and
plain values already stored read as they are, so a database sealed later keeps working until
`coverwatch security rotate-key` seals its old rows. Fernet (`cryptography`) is AES-128-CBC
with an HMAC-SHA256 over the whole token: a wrong key or a changed byte fails, never decrypts
to garbage. The key id (a keyed hash of the key, not the key) names which key sealed a value,
so a missing key is an error that says which one, and a rotation knows what is left to do.

The keys belong to an engine (its dialect, which every bind and result processor is handed),
not to the process: two engines in one process may hold different keys. Sealed values are
not comparable in SQL (each seal has its own random IV): nothing looks employees up by id
number, and a comparison with this column compares the stored text.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import String
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator, TypeEngine

SEALED_PREFIX = "fernet:"
STORED_LENGTH = 255
"""A 64-character value seals to 184 characters with its prefix and key id."""
_KEY_ID_LABEL = b"coverwatch data key id"
KEY_ID_LENGTH = 8
DATA_KEY_VARIABLE = "COVERWATCH_SECURITY__DATA_KEY"


class DataKeyError(Exception):
    """A sealed value cannot be opened with the keys given: the one-line message says which
    key it needs. Raised on reading a row, so nothing continues on an unreadable id number."""


def key_id(key: str) -> str:
    """Eight hex characters naming a key without revealing it (HMAC of a label under it)."""
    return hmac.new(key.encode(), _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:KEY_ID_LENGTH]


def new_key() -> str:
    """A fresh random data key (32 bytes, url-safe base64: Fernet's key format)."""
    return Fernet.generate_key().decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


def sealed_key_id(stored: str) -> str:
    """The key id a stored value names (`fernet:<id>:…`)."""
    return stored[len(SEALED_PREFIX) :].split(":", 1)[0]


class DataKeys:
    """The key values are sealed with (`current`) and older keys that still open them.

    :raises ValueError: for a key that is not 32 url-safe base64-encoded bytes (the message
        never holds the key).
    """

    def __init__(self, current: str, previous: Sequence[str] = ()) -> None:
        self.current_id = key_id(current)
        self._fernets = {key_id(key): Fernet(key.encode()) for key in (*previous, current)}
        self._current = self._fernets[self.current_id]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._fernets)

    def seal(self, plain: str) -> str:
        token = self._current.encrypt(plain.encode()).decode()
        return f"{SEALED_PREFIX}{self.current_id}:{token}"

    def open(self, stored: str) -> str:
        """The plain value of a sealed one; a plain one as it is.

        :raises DataKeyError: sealed under a key not given, or damaged.
        """
        if not is_sealed(stored):
            return stored
        sealed_id = sealed_key_id(stored)
        fernet = self._fernets.get(sealed_id)
        if fernet is None:
            raise missing_keys([sealed_id], self)
        token = stored[len(SEALED_PREFIX) + len(sealed_id) + 1 :]
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise DataKeyError(
                f"an id number sealed under data key {sealed_id} does not open: the stored "
                "value was changed or damaged"
            ) from None

    def is_current(self, stored: str) -> bool:
        return is_sealed(stored) and sealed_key_id(stored) == self.current_id


def missing_keys(sealed_ids: Sequence[str], keys: DataKeys | None) -> DataKeyError:
    """The error for values sealed under keys that were not given: it names them by id."""
    names = ", ".join(sealed_ids)
    if keys is None:
        return DataKeyError(
            f"id numbers are sealed (data key {names}) and no [security] data_key is set: "
            f"set {DATA_KEY_VARIABLE}"
        )
    return DataKeyError(
        f"id numbers are sealed under data key {names}, which is neither [security] data_key "
        f"({keys.current_id}) nor one of previous_data_keys: set the key they were sealed with"
    )


_ENGINE_KEYS: WeakKeyDictionary[Dialect, DataKeys] = WeakKeyDictionary()


def use_data_keys(engine: Engine, keys: DataKeys | None) -> None:
    """Seal and open `SealedText` columns through `engine` with `keys` (None: store plain)."""
    if keys is None:
        _ENGINE_KEYS.pop(engine.dialect, None)
    else:
        _ENGINE_KEYS[engine.dialect] = keys


def data_keys_of(engine: Engine) -> DataKeys | None:
    return _ENGINE_KEYS.get(engine.dialect)


class SealedText(TypeDecorator[str]):
    """Text sealed with the engine's data keys when it has some (module docstring)."""

    impl = String(STORED_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        keys = _ENGINE_KEYS.get(dialect)
        if value is None or keys is None:
            return value
        return keys.seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not is_sealed(value):
            return value
        keys = _ENGINE_KEYS.get(dialect)
        if keys is None:
            raise missing_keys([sealed_key_id(value)], None)
        return keys.open(value)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        # A value compared with the column (LIKE 'fernet:…') is stored text, not a value to seal.
        return String()
