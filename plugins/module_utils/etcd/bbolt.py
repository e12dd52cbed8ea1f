# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Just enough of the bbolt file format (etcd's database) to read an etcd snapshot's revision, page by page."""

from __future__ import absolute_import, annotations, division, print_function

import struct

_BOLT_MAGIC = 0xED0CDAED
_PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
_BRANCH_ELEM = struct.Struct("<IIQ")  # pos, ksize, pgid
_LEAF_ELEM = struct.Struct("<IIII")  # flags, pos, ksize, vsize
_META = struct.Struct("<IIIIQQQQQQ")  # magic, version, page size, flags, root, sequence, freelist, pgid, txid, sum
_BRANCH, _LEAF, _META_FLAG = 0x01, 0x02, 0x04
_BUCKET_LEAF = 0x01


class SnapshotError(Exception):
    """The snapshot file is not an intact etcd snapshot."""


def _fnv64a(data):
    value = 0xCBF29CE484222325
    for byte in bytearray(data):
        value ^= byte
        value = (value * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


class Bolt(object):
    """Just enough of the bbolt file format to read etcd's revision: pages are read on demand through ``read``."""

    def __init__(self, read, size):
        self.read = read
        self.size = size
        meta0 = self._meta(0)
        # Meta page 1 follows page 0; when page 0 is damaged, look for it at the usual page sizes (4 KiB first).
        meta1 = None
        for page_size in (meta0[2],) if meta0 else (4096, 512, 1024, 2048, 8192, 16384, 32768, 65536):
            meta1 = self._meta(page_size)
            if meta1 and meta1[2] == page_size:
                break
            meta1 = None
        metas = [m for m in (meta0, meta1) if m]
        if not metas:
            raise SnapshotError("no valid bbolt meta page (not an etcd database, or corrupt)")
        _magic, _version, page_size, _flags, root, _seq, _free, hwm, _txid, _sum = max(metas, key=lambda m: m[8])
        self.page_size = page_size
        self.root = root
        if hwm * page_size > size:
            raise SnapshotError(
                "the database is truncated: its meta page says %d pages of %d bytes, there are %d bytes"
                % (hwm, page_size, size)
            )

    def _meta(self, offset):
        raw = self.read(offset, _PAGE_HEADER.size + _META.size)
        if len(raw) < _PAGE_HEADER.size + _META.size:
            return None
        _pid, flags, _count, _overflow = _PAGE_HEADER.unpack_from(raw, 0)
        meta = _META.unpack_from(raw, _PAGE_HEADER.size)
        if not flags & _META_FLAG or meta[0] != _BOLT_MAGIC or meta[9] != _fnv64a(raw[_PAGE_HEADER.size : -8]):
            return None
        if meta[2] < 512 or meta[2] & (meta[2] - 1):
            return None
        return meta

    def _page(self, pgid):
        offset = pgid * self.page_size
        if pgid < 2 or offset + self.page_size > self.size:
            raise SnapshotError("page %d is outside the database" % pgid)
        overflow = _PAGE_HEADER.unpack(self.read(offset, _PAGE_HEADER.size))[3]
        if offset + self.page_size * (1 + overflow) > self.size:
            raise SnapshotError("page %d (+%d overflow pages) is outside the database" % (pgid, overflow))
        return self.read(offset, self.page_size * (1 + overflow))

    def _walk(self, page, last_only):
        """Yield ``(flags, key, value)`` of a tree's leaf elements in key order (or only the last one)."""
        _pid, flags, count, _overflow = _PAGE_HEADER.unpack_from(page, 0)
        if flags & _BRANCH:
            for i in [count - 1] if last_only else range(count):
                if i < 0:
                    continue
                _pos, _ksize, child = _BRANCH_ELEM.unpack_from(page, _PAGE_HEADER.size + i * _BRANCH_ELEM.size)
                for item in self._walk(self._page(child), last_only):
                    yield item
        elif flags & _LEAF:
            for i in [count - 1] if last_only else range(count):
                if i < 0:
                    continue
                elem = _PAGE_HEADER.size + i * _LEAF_ELEM.size
                eflags, pos, ksize, vsize = _LEAF_ELEM.unpack_from(page, elem)
                start = elem + pos
                if start + ksize + vsize > len(page):
                    raise SnapshotError("a leaf element points outside its page")
                yield eflags, bytes(page[start : start + ksize]), bytes(page[start + ksize : start + ksize + vsize])
        else:
            raise SnapshotError("unexpected page type 0x%x" % flags)

    def bucket(self, name):
        """The root page of a top-level bucket (inline buckets live inside their value), or ``None``."""
        for eflags, key, value in self._walk(self._page(self.root), False):
            if key == name and eflags & _BUCKET_LEAF:
                root = struct.unpack_from("<Q", value, 0)[0]
                return value[16:] if root == 0 else self._page(root)
        return None

    def last_key(self, page):
        items = list(self._walk(page, True))
        return items[-1][1] if items else None

    def get(self, page, key):
        for _flags, k, value in self._walk(page, False):
            if k == key:
                return value
        return None
