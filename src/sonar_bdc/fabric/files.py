"""Find the Fabric's CSV files (plain, or inside the delivered ZIPs) and read them as
streams of validated rows, ready for COPY.

A file is recognised by its header, never by its name: Active BSL and NoBSL files share
one header (``LOCATION_COLUMNS``), the Secondary / Supplemental file has its own
(``ADDRESS_COLUMNS``, ``primary_secondary`` renamed ``primary_supplemental`` in newer
releases); newer releases add ``fcc_rel`` to both. Columns are found by name, so their
order does not matter, and columns we do not know are ignored.

Nothing here logs or quotes a row: the Fabric is licensed data. Messages name the file
and line, and which column is wrong, never the row's values.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from operator import itemgetter
from pathlib import Path
from typing import IO

from sonar_bdc.errors import FabricFileError, FabricNotRecognised

from .chunks import Chunk, CsvProblem, chunks

log = logging.getLogger("sonar_bdc.fabric")

RELEASE = "fcc_rel"
LOCATION_COLUMNS = (
    "location_id", "address_primary", "city", "state", "zip", "zip_suffix", "unit_count",
    "bsl_flag", "building_type_code", "land_use_code", "address_confidence_code",
    "county_geoid", "block_geoid", "h3_9", "latitude", "longitude",
)  # fmt: skip
ADDRESS_COLUMNS = (
    "location_id", "address_id", "parcel_id", "address_confidence_code", "address_range",
    "pre_direction", "street_name", "suffix", "post_direction", "primary_secondary",
    "address", "city", "state", "zip", "zip_suffix", "address_source",
)  # fmt: skip
SUPPLEMENTAL_RENAMES = {"primary_supplemental": "primary_secondary"}
# The staging columns each kind's rows fill, in the order the rows carry them: a
# location's bsl_flag goes in as its text (the table reads True/False from it) and its
# point as latitude and longitude (the table makes the geometry).
STAGED_NAMES = {"bsl_flag": "bsl_text"}
LOCATION_LOAD_COLUMNS = tuple(STAGED_NAMES.get(c, c) for c in (*LOCATION_COLUMNS, RELEASE))
ADDRESS_TABLE_COLUMNS = (*ADDRESS_COLUMNS, RELEASE)
ZIP_MAGIC = b"PK\x03\x04"
ID_RULE = "a 10-digit integer of at least 1000000000 (the BDC system rejects other ids)"
# What a damaged ZIP raises while a member is read: CRC mismatch, cut deflate stream.
DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError)
POINT_RULE = (
    "latitude/longitude are not a point (numbers, latitude -90 to 90, longitude -180 to 180)"
)
NAN = float("nan")
NUL_BYTE = "a field holds a NUL byte (a damaged file?)"
BLOCK_BYTES = 1 << 18  # a CSV read by PostgreSQL is sent in blocks of about this size
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})

Row = tuple[str, ...]


class Kind(Enum):
    LOCATIONS = "Active BSL/NoBSL"
    ADDRESSES = "Secondary/Supplemental"


@dataclass(frozen=True)
class Layout:
    """A recognised header: the file's kind and where each column is."""

    kind: Kind
    index: dict[str, int]  # canonical column name -> position in the row
    width: int  # fields in the header

    @property
    def has_release(self) -> bool:
        return RELEASE in self.index

    def pick(self, columns: tuple[str, ...]) -> Callable[[list[str]], tuple[str, ...]]:
        return itemgetter(*(self.index[c] for c in columns))


@dataclass(frozen=True)
class Source:
    """One CSV: a plain file, or a member of a ZIP."""

    path: Path
    member: str | None  # the CSV's name inside the ZIP
    size: int  # uncompressed bytes, for progress

    @property
    def name(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The CSV's bytes as a stream; a damaged ZIP becomes FabricFileError."""
        with _damaged_zip(self.path):
            if self.member is None:
                with self.path.open("rb") as stream:
                    yield stream
            else:
                with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as stream:
                    yield stream


def sources(paths: list[Path]) -> list[Source]:
    """Every CSV in ``paths``: plain files and the CSV members of ZIPs (told by content)."""
    found: list[Source] = []
    for path in paths:
        if path.is_dir():
            raise FabricFileError(
                f"{path}: a directory; give the Fabric ZIP or CSV files in it (e.g. {path}/*.zip)"
            )
        if not path.is_file():
            raise FabricFileError(f"{path}: no such file")
        if _starts_like_zip(path):
            found.extend(_zip_sources(path))
        else:
            found.append(Source(path, None, path.stat().st_size))
    return found


def _starts_like_zip(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(len(ZIP_MAGIC)) == ZIP_MAGIC


def _zip_sources(path: Path) -> list[Source]:
    with _damaged_zip(path), zipfile.ZipFile(path) as archive:
        members = [
            info for info in archive.infolist()
            if not info.is_dir() and info.filename.lower().endswith(".csv")
            and not info.filename.startswith("__MACOSX/")
        ]  # fmt: skip
    if not members:
        raise FabricFileError(f"{path}: the ZIP holds no CSV file; is it the Fabric download?")
    return [Source(path, info.filename, info.file_size) for info in members]


@contextlib.contextmanager
def _damaged_zip(path: Path) -> Iterator[None]:
    try:
        yield
    except DAMAGED as exc:
        raise FabricFileError(
            f"{path}: the ZIP is damaged or truncated ({exc}); download it again; nothing changed"
        ) from exc


def recognise(header: list[str], where: str) -> Layout:
    """The layout of a Fabric header; FabricFileError for a missing column or another file."""
    names = [SUPPLEMENTAL_RENAMES.get(n, n) for n in (h.strip().lower() for h in header)]
    index = {name: i for i, name in reversed(list(enumerate(names)))}  # first one wins
    best: tuple[int, Kind, tuple[str, ...]] | None = None
    for kind, columns in ((Kind.LOCATIONS, LOCATION_COLUMNS), (Kind.ADDRESSES, ADDRESS_COLUMNS)):
        missing = tuple(c for c in columns if c not in index)
        if not missing:
            return Layout(kind, index, len(header))
        present = len(columns) - len(missing)
        looks_like = "location_id" in index and present * 2 >= len(columns)
        if looks_like and (best is None or present > best[0]):
            best = (present, kind, missing)
    if best is not None:
        raise FabricFileError(
            f"{where}: looks like a Fabric {best[1].value} file but has no "
            f"{', '.join(best[2])} column; use the files as delivered; nothing changed"
        )
    raise FabricNotRecognised(
        f"{where}: not a Fabric file (its header is neither Active BSL/NoBSL nor "
        "Secondary/Supplemental); nothing changed"
    )


class Reader:
    """One open CSV: its layout, and its rows validated and shaped for the table."""

    def __init__(self, source: Source, stream: IO[bytes]) -> None:
        self.source = source
        self._line = 0  # the line of the row last read, for messages
        self._chunks = self._read(chunks(stream))
        first = next(self._chunks, None)
        header = next(first.rows(), None) if first is not None else None
        if first is None or header is None:
            raise FabricFileError(f"{source.name}: empty file, not a Fabric file; nothing changed")
        self._line = first.line(0)
        self.layout = recognise(header, source.name)
        self._chunks = itertools.chain((first.without_first(),), self._chunks)

    @property
    def line(self) -> int:
        return self._line

    def where(self) -> str:
        return f"{self.source.name} line {self._line}"

    def _read(self, found: Iterator[Chunk]) -> Iterator[Chunk]:
        try:
            yield from found
        except CsvProblem as exc:
            self._line = exc.line
            raise FabricFileError(f"{self.where()}: {exc.what}; nothing changed") from exc

    def _fail(self, chunk: Chunk, row: list[str], what: str) -> FabricFileError:
        self._line = chunk.line_of(row)
        return FabricFileError(f"{self.where()}: {what}")

    def _ragged(self, chunk: Chunk, row: list[str]) -> FabricFileError:
        what = f"{len(row)} fields where the header has {self.layout.width}"
        return self._fail(chunk, row, f"{what} (a damaged or truncated file?); nothing changed")

    def raw_rows(self) -> Iterator[list[str]]:
        """Every data row with the header's number of fields; blank lines skipped."""
        width = self.layout.width
        for chunk in self._chunks:
            for at, row in enumerate(chunk.rows()):
                if len(row) != width:
                    if not row:
                        continue
                    raise self._ragged(chunk, row)
                self._line = chunk.line(at)
                yield row

    def first_release(self) -> str | None:
        """The fcc_rel of the first data row; None without the column or without rows."""
        if not self.layout.has_release:
            return None
        at = self.layout.index[RELEASE]
        return next((row[at].strip() for row in self.raw_rows()), None)

    def copy_text(self, release: str) -> Iterator[str]:
        """An Active BSL/NoBSL file as COPY text (``LOCATION_LOAD_COLUMNS``, tab-separated,
        an empty field for NULL), a block per chunk, every row checked; ``release`` fills
        fcc_rel and the point is the floats read (``repr``: PostgreSQL reads them back
        exactly)."""
        assert self.layout.kind is Kind.LOCATIONS
        return self._location_text(release)

    def rows(self, release: str) -> Iterator[Row]:
        """A Secondary/Supplemental file's rows for its table, every one checked;
        ``release`` fills fcc_rel. An empty field stays "": the COPY reads it as NULL."""
        assert self.layout.kind is Kind.ADDRESSES
        return self._address_rows(release)

    def _release_differs(self, row: list[str], release: str) -> FabricFileError | None:
        at = self.layout.index.get(RELEASE)
        if at is None or row[at] == release or row[at].strip() == release:
            return None
        return self._wrong_release(release)

    def _wrong_release(self, release: str) -> FabricFileError:
        return FabricFileError(
            f"{self.where()}: fcc_rel is not {release}, the release of this load; "
            "load one release at a time; nothing changed"
        )

    def _location_text(self, release: str) -> Iterator[str]:
        # The hot loop of a load (millions of rows): checks inline, no call per field,
        # and the COPY line built here (psycopg's write_row would double the loop's time).
        index, width = self.layout.index, self.layout.width
        columns = self.layout.pick(LOCATION_COLUMNS[:14])
        at_id, at_bsl, at_units = index["location_id"], index["bsl_flag"], index["unit_count"]
        at_lat, at_lon = index["latitude"], index["longitude"]
        at_release = index.get(RELEASE, at_id)  # without the column: a check that never fails
        expected = release if RELEASE in index else None
        tail = "\t" + copy_escape(release) + "\n"
        join = "\t".join
        for chunk in self._chunks:
            lines: list[str] = []
            for row in chunk.rows():
                if len(row) != width:
                    if not row:
                        continue
                    raise self._ragged(chunk, row)
                location_id, bsl, units = row[at_id], row[at_bsl], row[at_units]
                release_there = row[at_release]  # spaces around it are fine
                if expected and release_there != expected and release_there.strip() != expected:
                    self._line = chunk.line_of(row)
                    raise self._wrong_release(release)
                if not (len(location_id) == 10 and location_id.isdigit()
                        and location_id.isascii() and location_id[0] != "0"):  # fmt: skip
                    raise self._fail(chunk, row, f"location_id is not {ID_RULE}")
                if bsl != "True" and bsl != "False":
                    raise self._fail(chunk, row, "bsl_flag is neither True nor False")
                if units and not (len(units) <= 9 and units.isascii() and units.isdigit()):
                    raise self._fail(chunk, row, "unit_count is not a whole number")
                try:
                    y, x = float(row[at_lat]), float(row[at_lon])
                except ValueError:
                    y = x = NAN
                if not (-90.0 <= y <= 90.0 and -180.0 <= x <= 180.0):  # NaN fails too
                    raise self._fail(chunk, row, POINT_RULE)
                text = join(columns(row)) if chunk.plain else self._escaped(chunk, row, columns)
                lines.append(f"{text}\t{y!r}\t{x!r}{tail}")
            if lines:
                self._line = chunk.last
                yield "".join(lines)

    def _escaped(self, chunk: Chunk, row: list[str], columns: Callable[[list[str]], Row]) -> str:
        fields = columns(row)
        if any("\x00" in field for field in fields):
            raise self._fail(chunk, row, f"{NUL_BYTE}; nothing changed")
        return "\t".join(map(copy_escape, fields))

    def _address_rows(self, release: str) -> Iterator[Row]:
        pick = self.layout.pick(ADDRESS_COLUMNS)
        tail_release = (release,)
        for row in self.raw_rows():
            problem = self._release_differs(row, release)
            if problem is not None:
                raise problem
            values = pick(row)
            if not valid_location_id(values[0]):
                raise FabricFileError(f"{self.where()}: location_id is not {ID_RULE}")
            address_id = values[1]
            if address_id and not (
                len(address_id) <= 18 and address_id.isascii() and address_id.isdigit()
            ):
                raise FabricFileError(f"{self.where()}: address_id is not a whole number")
            yield values + tail_release


def copy_escape(field: str) -> str:
    """``field`` for COPY's text format: backslash, tab and line ends escaped."""
    if "\\" in field or "\t" in field or "\n" in field or "\r" in field:
        return field.translate(_COPY_ESCAPES)
    return field


def valid_location_id(text: str) -> bool:
    """A 10-digit integer of at least 1,000,000,000: what the BDC system accepts."""
    return len(text) == 10 and text.isascii() and text.isdigit() and text[0] != "0"


class _Counted(io.RawIOBase):
    """A byte stream that tells ``on_bytes`` how much was read (progress by size)."""

    def __init__(self, stream: IO[bytes], on_bytes: Callable[[int], object]) -> None:
        super().__init__()
        self._stream, self._on_bytes = stream, on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]  # io's is Buffer
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self._on_bytes(len(data))
        return len(data)


@contextlib.contextmanager
def reading(source: Source, on_bytes: Callable[[int], object] | None = None) -> Iterator[Reader]:
    """``source`` open as a Reader, closed after the block; ``on_bytes`` hears of every
    chunk read."""
    with source.open() as stream:
        yield Reader(source, stream if on_bytes is None else counted(stream, on_bytes))


def counted(stream: IO[bytes], on_bytes: Callable[[int], object]) -> IO[bytes]:
    """``stream``, buffered, telling ``on_bytes`` of every read (progress by size)."""
    return io.BufferedReader(_Counted(stream, on_bytes), 1 << 16)


def csv_columns(layout: Layout) -> list[str] | None:
    """The staging columns of a Fabric CSV in its header's order, for PostgreSQL to read
    as it is; None when the header has a column PostgreSQL would have nowhere to put
    (unknown, or twice): such a file is read row by row."""
    locations = layout.kind is Kind.LOCATIONS
    known = {*(LOCATION_COLUMNS if locations else ADDRESS_COLUMNS), RELEASE}
    if len(layout.index) != layout.width or not set(layout.index) <= known:
        return None
    by_place = sorted(layout.index, key=layout.index.__getitem__)
    return [STAGED_NAMES.get(name, name) if locations else name for name in by_place]


@contextlib.contextmanager
def csv_body(source: Source, on_bytes: Callable[[int], object]) -> Iterator[Iterator[bytes]]:
    """``source``'s bytes after its header line, in blocks of whole CSV records."""
    with source.open() as stream:
        body = counted(stream, on_bytes)
        body.readline()  # the header (and a byte-order mark), recognised already
        yield record_blocks(body)


def record_blocks(stream: IO[bytes], size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The stream in blocks that each end where a CSV record ends: after a line end
    outside double quotes. A block with no such end (a stray quote) goes on to the next,
    up to 64 times ``size``: PostgreSQL then says what is wrong with it."""
    rest = b""
    while data := stream.read(size):
        data = rest + data
        cut = record_end(data)
        if not cut and len(data) >= 64 * size:
            cut = len(data)
        rest = data[cut:]
        if cut:
            yield data[:cut]
    if rest:
        yield rest


def record_end(data: bytes) -> int:
    """Where the last whole record of ``data`` ends (0: none): past the last line end
    with an even number of quotes before it (a quoted field's quotes come in pairs)."""
    end = data.rfind(b"\n")
    odd = data.count(b'"', 0, end) % 2 if end >= 0 else 0
    while end >= 0 and odd:
        before = data.rfind(b"\n", 0, end)
        odd ^= data.count(b'"', before + 1, end) % 2
        end = before
    return end + 1


def lines_of(sources_: list[Source], location_id: str, kind: Kind, most: int = 2) -> list[str]:
    """Where ``location_id`` is in files of ``kind``: "FILE line N", at most ``most``.

    Only on the error path (a duplicate found by the database): a second read is cheaper
    than remembering every id of a load.
    """
    found: list[str] = []
    for source in sources_:
        with reading(source) as reader:
            if reader.layout.kind is not kind:
                continue
            at = reader.layout.index["location_id"]
            for row in reader.raw_rows():
                if row[at] == location_id:
                    found.append(reader.where())
                    if len(found) == most:
                        return found
    return found
