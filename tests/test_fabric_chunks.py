"""The chunked CSV reading of a Fabric load: the same rows and line numbers as
``csv.reader`` on a text file, whatever the chunk size, quoting and line ends."""

from __future__ import annotations

import csv
import io

import pytest

from sonar_bdc.fabric.chunks import CsvProblem, chunks
from sonar_bdc.fabric.files import copy_escape


def as_csv_reads(text: str) -> list[tuple[int, list[str]]]:
    """What csv.reader gives for ``text`` read as a file: (line the row ends on, row)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    return [(reader.line_num, row) for row in reader if row]


def as_chunks_read(data: bytes, size: int) -> list[tuple[int, list[str]]]:
    found = []
    for chunk in chunks(io.BytesIO(data), size):
        found += [(chunk.line(at), row) for at, row in enumerate(chunk.rows()) if row]
    return found


PLAIN = "a,b,c\n1,2,3\n\n4,,6\n7,8,9\n"
QUOTED = 'a,b,c\n1,2,3\n4,"x, y",6\n7,"two\nlines",9\n\n10,"""q""",12\n13,14,15\n'
CRLF = "a,b,c\r\n1,2,3\r\n\r\n4,5,6\r\n"
CRLF_QUOTED = 'a,b,c\r\n1,"x\r\ny",3\r\n4,5,6\r\n'
NO_LAST_NEWLINE = "a,b,c\n1,2,3\n4,5,6"


@pytest.mark.parametrize("text", [PLAIN, QUOTED, CRLF, CRLF_QUOTED, NO_LAST_NEWLINE])
@pytest.mark.parametrize("size", [1, 3, 7, 64, 1 << 18])
def test_rows_and_lines_are_csv_readers_at_any_chunk_size(text: str, size: int) -> None:
    assert as_chunks_read(text.encode(), size) == as_csv_reads(text)


def test_unquoted_chunks_are_split_and_the_rest_goes_through_csv() -> None:
    text = "a,b\n1,2\n" * 4 + '3,"4"\n5,6\n'
    found = list(chunks(io.BytesIO(text.encode()), 16))
    assert found[0].parsed is None  # split
    assert found[-1].parsed is not None  # from the first quote on: csv.reader


def test_a_byte_order_mark_is_dropped_and_plain_says_when_fields_need_escaping() -> None:
    (chunk,) = chunks(io.BytesIO("\ufeffa,b\n1,2\n".encode()))
    assert list(chunk.rows()) == [["a", "b"], ["1", "2"]] and chunk.plain
    (chunk,) = chunks(io.BytesIO(b"a,b\n1,x\\y\n"))
    assert not chunk.plain


def test_text_that_is_not_utf8_names_its_line() -> None:
    data = b"a,b\n1,2\n3,\xff\n"
    with pytest.raises(CsvProblem) as caught:
        list(chunks(io.BytesIO(data), 1 << 18))
    assert (caught.value.line, caught.value.what) == (3, "not UTF-8 text")


def test_a_row_csv_cannot_read_names_its_line() -> None:
    huge = "x" * (csv.field_size_limit() + 1)  # a field past csv's limit
    data = f'a,b\n1,2\n3,"{huge}"\n'.encode()
    with pytest.raises(CsvProblem, match=r"not a CSV row .*field larger") as caught:
        list(chunks(io.BytesIO(data), 1 << 18))
    assert caught.value.line == 3


def test_copy_escape_escapes_what_copy_text_format_reads_as_escapes() -> None:
    assert copy_escape("plain text, 12") == "plain text, 12"
    assert copy_escape("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"


def as_blocks(data: bytes, size: int) -> list[bytes]:
    from sonar_bdc.fabric.files import record_blocks

    return list(record_blocks(io.BytesIO(data), size))


@pytest.mark.parametrize("text", [PLAIN, QUOTED, CRLF, CRLF_QUOTED, NO_LAST_NEWLINE])
@pytest.mark.parametrize("size", [1, 3, 7, 64, 1 << 18])
def test_blocks_for_postgres_end_where_a_record_ends(text: str, size: int) -> None:
    """Each block PostgreSQL gets holds whole records: csv.reader reads the blocks one
    by one as it reads the file whole (a quoted line end never splits a record)."""
    blocks = as_blocks(text.encode(), size)
    assert b"".join(blocks) == text.encode()
    one_by_one = [row for b in blocks for row in csv.reader(io.StringIO(b.decode(), newline=""))]
    assert one_by_one == list(csv.reader(io.StringIO(text, newline="")))


def test_a_stray_quote_holds_back_no_more_than_64_blocks() -> None:
    """An unclosed quote has no record end: the rest still goes (PostgreSQL refuses it)
    instead of the whole file piling up in memory."""
    text = ('1,"open\n' + "2,x\n" * 400).encode()
    blocks = as_blocks(text, 16)
    assert b"".join(blocks) == text
    assert max(map(len, blocks)) < 64 * 16 + 16
