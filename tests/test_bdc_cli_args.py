"""Options of the filing commands refused before any work: one line, exit 2, no file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonar_bdc.cli import main


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--provider-id", "12", "is not a 6-digit FCC provider id"),
        ("--provider-id", "1234567", "is not a 6-digit FCC provider id"),
        ("--provider-id", "12345x", "is not a 6-digit FCC provider id"),
        ("--brand-name", " ", "give the brand name, on one line"),
        ("--brand-name", "Acme\nBroadband", "give the brand name, on one line"),
    ],
)
def test_a_bad_provider_id_or_brand_name_stops_before_any_work(
    option: str, value: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = {"--provider-id": "123456", "--brand-name": "Acme", option: value}
    out = tmp_path / "a.csv"
    argv = ["bdc", "availability", "--as-of", "2026-06-30", "-o", str(out)]
    with pytest.raises(SystemExit) as stopped:
        main([*argv, *(part for pair in args.items() for part in pair)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
