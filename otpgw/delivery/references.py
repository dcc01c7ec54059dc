"""The reference index a worker gives its transports: kept in Redis, keys as keyed tags."""
from __future__ import annotations

from ..domain.codes import Tags
from ..store.references import ReferenceStore


class TaggedReferenceIndex:
    """``ReferenceIndex`` of one transport, over Redis; a key (which may hold a phone
    number) is stored only as its keyed tag."""

    def __init__(self, store: ReferenceStore, tags: Tags, transport: str):
        self.store = store
        self.tags = tags
        self.transport = transport

    def put(self, key: str, reference: str, ttl_s: int) -> None:
        self.store.put(self.transport, self.tags.opaque("carrier-ref", key), reference, ttl_s)

    def get(self, key: str) -> str | None:
        return self.store.get(self.transport, self.tags.opaque("carrier-ref", key))
