"""QR codes in images: "quishing" puts the phishing URL in a picture.

The image header is read first and the pixels only when the size is sane: a 100 kB PNG can declare a gigapixel.
Images whose short side could not hold a code a phone reads (logos, banners, tracking pixels) are skipped, big ones
reduced while decoding (JPEG draft) or downscaled, in one grayscale pass. Only still-image formats are decoded, and
of an animated GIF the first frame. The scan of an image is remembered by its SHA-256 (a few thousand per process):
the copies of a campaign carry the same logo and the same code.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from io import BytesIO

import zxingcpp
from PIL import Image, ImageOps

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 25_000_000  # declared width x height, checked before decoding
MIN_SIDE = 64  # px: a QR code (21 modules and its margin) needs ~2.5 px a module to be read from a screen
MAX_SIDE = 1000  # px: larger images are downscaled before detection; a readable code stays readable
MAX_CODES = 10
MAX_TEXT = 4096  # characters kept of one code's content
MAX_CACHED = 4096  # scans remembered, by the image's SHA-256
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
# The QR family only: quishing uses QR codes, and on a 1200x800 photo QR detection costs ~2.5 ms where Data Matrix
# adds ~10 ms, PDF417 ~5 ms and Aztec ~1.5 ms.
_F = zxingcpp.BarcodeFormat
_QR_FAMILY = zxingcpp.BarcodeFormats([_F.QRCode, _F.MicroQRCode, _F.RMQRCode])


@dataclass(frozen=True)
class QrScan:
    texts: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def qr_texts(image: bytes) -> list[str]:
    """Decoded contents of the QR codes in an image; empty for anything unreadable. Never raises."""
    return qr_scan(image).texts


def qr_scan(image: bytes, sha256: bytes | None = None) -> QrScan:
    """qr_texts with the reasons an image was not or only partly read. `sha256`: the image's digest, if the caller
    has it."""
    if len(image) > MAX_BYTES:
        return QrScan(defects=["image-too-large"])
    key = sha256 or hashlib.sha256(image).digest()
    known = _SCANS.get(key)
    if known is None:
        known = _scan(image)
        with _SCANS_LOCK:
            _SCANS[key] = known
            if len(_SCANS) > MAX_CACHED:
                _SCANS.popitem(last=False)
    return QrScan(texts=list(known.texts), defects=list(known.defects))  # the caller's to change


_SCANS: OrderedDict[bytes, QrScan] = OrderedDict()
_SCANS_LOCK = threading.Lock()


def _scan(image: bytes) -> QrScan:
    try:
        with Image.open(BytesIO(image), formats=FORMATS) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                return QrScan(defects=["image-too-many-pixels"])
            if min(width, height) < MIN_SIDE:
                return QrScan()
            gray = _grayscale(img)
    except Exception:  # Pillow's decoders raise OSError, ValueError, struct.error, IndexError... on hostile bytes
        return QrScan(defects=["image-unreadable"])
    try:
        codes = zxingcpp.read_barcodes(gray, formats=_QR_FAMILY)
    except Exception:  # a decoder failure is no reason to fail the analysis
        return QrScan(defects=["qr-decoder-error"])
    texts: list[str] = []
    for code in codes[:MAX_CODES]:
        text = code.text[:MAX_TEXT]
        if text and text not in texts:
            texts.append(text)
    return QrScan(texts=texts)


def _grayscale(img: Image.Image) -> Image.Image:
    """8-bit luminance, transparency over white (a QR drawn on a transparent background has black "empty" pixels),
    downscaled to MAX_SIDE. A JPEG is reduced while decoding (draft), for a fraction of the cost. Transparency is
    composited on the luminance and alpha planes: a quarter of the bytes of an RGBA composite."""
    if img.format == "JPEG":  # luminance only, and the largest DCT scaling that keeps both sides >= MAX_SIDE / 2
        img.draft("L", (MAX_SIDE // 2, MAX_SIDE // 2) if max(img.size) > MAX_SIDE else img.size)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        luminance, alpha = img.convert("LA").split()
        gray = Image.composite(luminance, Image.new("L", img.size, 255), alpha)
    else:
        gray = img.convert("L")
    if max(gray.size) > MAX_SIDE:
        gray = ImageOps.contain(gray, (MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    return gray
