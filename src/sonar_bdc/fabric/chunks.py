"""A CSV read in chunks of whole lines: split with ``str.split`` where that is exactly
what ``csv`` would do, with ``csv.reader`` from the first chunk that needs it.

A Fabric load spends most of its client time taking rows apart, and ``csv.reader``
costs about as much as every check of a row together. Most Fabric files quote nothing:
in a chunk with no double quote and no carriage return (a ``\\r\\n`` chunk is rewritten
to ``\\n`` first) a line is a row and a comma is a delimiter, so ``str.split`` gives the
very rows ``csv`` would, at about twice its speed. The first chunk with a quote (or a
bare ``\\r``) hands the rest of the file to ``csv.reader``, which then sees every line
that follows: a quoted field may run across chunks.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

CHUNK_BYTES = 1 << 18  # read at a time; ~2,000 Fabric rows, a few MB as Python objects
CSV_CHUNK_ROWS = 2_000  # rows per chunk once csv.reader reads the file


class CsvProblem(Exception):
    """The file cannot be read as CSV at ``line``; ``what`` says why (never a value)."""

    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line, self.what = line, what


@dataclass(frozen=True)
class Chunk:
    """Rows read together: ``lines`` split on demand, or ``parsed`` by csv.reader (where a
    blank line is an empty row). Split rows are made one at a time, as they are used:
    a chunk of them alive at once would keep Python's garbage collector busy."""

    lines: list[str]  # no blank line among them
    parsed: list[list[str]] | None  # csv.reader's rows instead of lines
    first: int  # the line of the first row when each row is one line (ends is None)
    ends: list[int] | None  # else the line each row ends on
    plain: bool  # no backslash, tab or NUL anywhere: fields need no COPY escaping

    def rows(self) -> Iterator[list[str]]:
        if self.parsed is not None:
            return iter(self.parsed)
        return map(str.split, self.lines, itertools.repeat(","))

    def line(self, at: int) -> int:
        return self.first + at if self.ends is None else self.ends[at]

    @property
    def last(self) -> int:
        """The line of the last row."""
        count = len(self.lines) if self.parsed is None else len(self.parsed)
        return self.line(count - 1)

    def line_of(self, row: list[str]) -> int:
        """The line of ``row`` (one of ``rows()``); for an error message only."""
        if self.parsed is None:
            return self.line(self.lines.index(",".join(row)))
        return self.line(next(i for i, r in enumerate(self.parsed) if r is row))

    def without_first(self) -> Chunk:
        """The chunk after its first row (the header)."""
        ends = None if self.ends is None else self.ends[1:]
        if self.parsed is not None:
            return Chunk([], self.parsed[1:], self.first, ends, self.plain)
        first = self.first + 1 if ends is None else 0
        return Chunk(self.lines[1:], None, first, ends, self.plain)


def chunks(stream: IO[bytes], size: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """The rows of a UTF-8 CSV (a byte-order mark allowed); CsvProblem when it is none."""
    texts = _texts(stream, size)
    line = 0
    for text in texts:
        if "\r" in text and '"' not in text:
            text = text.replace("\r\n", "\n")
        if '"' in text or "\r" in text:
            yield from _csv_chunks(itertools.chain((text,), texts), line)
            return
        lines = text.split("\n")
        if not lines[-1]:
            lines.pop()  # the text ends with its last line's \n
        plain = "\\" not in text and "\t" not in text and "\x00" not in text
        if "" in lines:  # blank lines (rare) are skipped: the others keep their numbers
            ends = [line + at + 1 for at, text_line in enumerate(lines) if text_line]
            yield Chunk([ln for ln in lines if ln], None, 0, ends, plain)
        else:
            yield Chunk(lines, None, line + 1, None, plain)
        line += len(lines)


def _texts(stream: IO[bytes], size: int) -> Iterator[str]:
    """The stream decoded, in pieces that end where a line ends (the last may not)."""
    rest, lines_before, first = b"", 0, True
    while data := stream.read(size):
        data = rest + data
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield _decode(data[:cut], lines_before, first)
            lines_before += data.count(b"\n", 0, cut)
            first = False
    if rest:
        yield _decode(rest, lines_before, first)


def _decode(data: bytes, lines_before: int, first: bool) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = lines_before + data.count(b"\n", 0, exc.start) + 1
        raise CsvProblem(line, "not UTF-8 text") from exc
    return text[1:] if first and text.startswith("\ufeff") else text


def _csv_chunks(texts: Iterator[str], line: int) -> Iterator[Chunk]:
    """The rest of the file through csv.reader; lines split as a text file's would be."""
    reader = csv.reader(ln for text in texts for ln in io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    ends: list[int] = []
    try:
        for row in reader:
            rows.append(row)
            ends.append(line + reader.line_num)
            if len(rows) == CSV_CHUNK_ROWS:
                yield Chunk([], rows, 0, ends, plain=False)
                rows, ends = [], []
    except csv.Error as exc:
        raise CsvProblem(line + reader.line_num, f"not a CSV row ({exc})") from exc
    if rows:
        yield Chunk([], rows, 0, ends, plain=False)
