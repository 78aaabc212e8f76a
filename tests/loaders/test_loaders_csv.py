"""Reading contacts from CSV and TSV files: layout quirks, bad rows and the load report."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import logging
from pathlib import Path

import pytest

from leadscore.errors import DataError
from leadscore.loaders import LoadReport, read_contacts, sniff_delimiter

UTC = dt.UTC
DATA = Path(__file__).parent / "data"


def write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


def test_crm_export_quirks() -> None:
    path = DATA / "contacts_crm.csv"
    contacts = list(read_contacts(path, id_column="Contact ID", types={"Interests": "list"}))

    assert [contact.id for contact in contacts] == ["c-001", "c-002", "c-003"]
    assert dict(contacts[0].profile) == {
        "Company": "Acme, s.r.o.",
        "Phone": "+420 601 123 456",
        "Zip": "01234",
        "Employees": 250,
        "Revenue": 1250000.5,
        "Newsletter": "Yes",
        "Opted In": True,
        "Signed Up": dt.date(2024, 3, 31),
        "Last Seen": dt.datetime(2024, 4, 2, 7, 15, tzinfo=UTC),
        "Account Number": "4000123456789012345",
        "Interests": ["webinars", "pricing"],
    }
    assert dict(contacts[1].profile) == {
        "Company": 'Beta "Labs"',
        "Phone": "0601123456",
        "Employees": 12,
        "Newsletter": "No",
        "Opted In": False,
        "Last Seen": dt.datetime(2024, 4, 3, 10, tzinfo=UTC),
        "Region": "Europe",
    }
    assert dict(contacts[2].profile) == {
        "Company": "Gamma\nMultiline Ltd",
        "Zip": 10115,  # inference is per cell: only a leading zero keeps a zip code text
        "Revenue": -3.5,
        "Signed Up": "2024-02-30",
        "Last Seen": dt.datetime(2024, 4, 3, 10, 0),
        "Account Number": 123,
        "Interests": ["trials"],
        "Region": "Asia",
    }


def test_bank_extract_semicolons_quoted() -> None:
    contacts = list(read_contacts(DATA / "bank_head.csv", id_column=None, types={"y": "boolean"}))

    assert [contact.id for contact in contacts] == ["2", "3", "4", "5", "6"]
    assert dict(contacts[1].profile) == {
        "age": 33,
        "job": "services",
        "marital": "married",
        "education": "secondary",
        "default": "no",
        "balance": 4789,
        "housing": "yes",
        "loan": "yes",
        "contact": "cellular",
        "day": 11,
        "month": "may",
        "duration": 220,
        "campaign": 1,
        "pdays": 339,
        "previous": 4,
        "poutcome": "failure",
        "y": False,
    }
    assert [contact.profile["pdays"] for contact in contacts] == [-1, 339, 330, -1, -1]


def test_text_type_keeps_every_zip_code() -> None:
    path = DATA / "contacts_crm.csv"
    contacts = list(read_contacts(path, id_column="Contact ID", types={"Zip": "text"}))
    assert [contact.profile.get("Zip") for contact in contacts] == ["01234", None, "10115"]


def test_bom_is_not_part_of_first_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbfid,name\r\nc1,Ann\r\n")
    contacts = list(read_contacts(path))
    assert contacts[0].id == "c1"
    assert dict(contacts[0].profile) == {"name": "Ann"}


def test_crlf_leaves_no_carriage_return(tmp_path: Path) -> None:
    path = write(tmp_path, "crlf.csv", b"id,city\r\nc1,Brno\r\nc2,Praha\r\n")
    contacts = list(read_contacts(path))
    assert [dict(contact.profile) for contact in contacts] == [{"city": "Brno"}, {"city": "Praha"}]


def test_old_mac_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path, "cr.csv", b'id,name\rc1,"A\rB"\rc2,C\r')
    contacts = list(read_contacts(path))
    assert [(contact.id, dict(contact.profile)) for contact in contacts] == [
        ("c1", {"name": "A\rB"}),
        ("c2", {"name": "C"}),
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"age";"job";"y"', ";"),
        ("id,name,city", ","),
        ("id\tname\tcity", "\t"),
        ('"a,b";c;d', ";"),  # the comma sits inside quotes
        ("id", ","),
    ],
)
def test_sniff_delimiter(header: str, expected: str) -> None:
    assert sniff_delimiter(header) == expected


def test_sniff_delimiter_tie_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "tie.csv", b"id;name,city\nc1;x,y\n")
    with pytest.raises(DataError) as caught:
        list(read_contacts(path))
    assert caught.value.row == 1
    assert "1 ',' and 1 ';'" in str(caught.value)
    assert "delimiter=" in (caught.value.hint or "")


def test_explicit_delimiter_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "pipes.csv", b"id|note\nc1|a;b,c\n")
    contacts = list(read_contacts(path, delimiter="|"))
    assert dict(contacts[0].profile) == {"note": "a;b,c"}


def test_tsv_suffix_reads_tabs(tmp_path: Path) -> None:
    path = write(tmp_path, "contacts.tsv", b"id\tnote\nc1\ta, b; c\n")
    contacts = list(read_contacts(path))
    assert dict(contacts[0].profile) == {"note": "a, b; c"}


def test_gzip_file_reads_like_plain(tmp_path: Path) -> None:
    data = b"id;score\r\nc1;5\r\nc2;7\r\n"
    path = write(tmp_path, "contacts.csv.gz", gzip.compress(data))
    contacts = list(read_contacts(path))
    assert [(contact.id, contact.profile["score"]) for contact in contacts] == [
        ("c1", 5),
        ("c2", 7),
    ]


def test_truncated_gzip_raises(tmp_path: Path) -> None:
    data = b"id,score\n" + b"".join(b"c%d,%d\n" % (i, i) for i in range(5000))
    compressed = gzip.compress(data)
    path = write(tmp_path, "cut.csv.gz", compressed[: len(compressed) // 2])
    with pytest.raises(DataError, match="cut off or damaged"):
        list(read_contacts(path))


def test_plain_file_named_gz_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "contacts.csv.gz", b"id\nc1\n")
    with pytest.raises(DataError, match="cut off or damaged") as caught:
        list(read_contacts(path))
    assert caught.value.file == str(path)


def test_cut_off_last_row_strict(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.csv", b"id,a,b\r\nc1,1,2\r\nc2,3,4\r\nc3,5")
    contacts = read_contacts(path)
    assert next(contacts).id == "c1"
    assert next(contacts).id == "c2"
    with pytest.raises(DataError) as caught:
        next(contacts)
    assert caught.value.file == str(path)
    assert caught.value.row == 4
    assert "cut off" in str(caught.value)
    assert "2 of 3 fields" in str(caught.value)


def test_cut_off_last_row_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.csv", b"id,a,b\r\nc1,1,2\r\nc2,3,4\r\nc3,5")
    report = LoadReport()
    contacts = list(read_contacts(path, skip_bad_rows=True, report=report))

    assert [contact.id for contact in contacts] == ["c1", "c2"]
    assert report.rows_read == 3
    assert report.rows_skipped == 1
    assert report.rows_loaded == 2
    assert report.skipped_by_reason == {"row cut off at the end of the file": 1}
    assert report.skipped_rows[0].row == 4
    assert report.skipped_rows[0].file == str(path)
    assert report.summary() == "read 3 rows, skipped 1: row cut off at the end of the file (1)"


def test_short_row_inside_file(tmp_path: Path) -> None:
    path = write(tmp_path, "short.csv", b"id,a,b\nc1,1\nc2,3,4\n")
    with pytest.raises(DataError) as caught:
        list(read_contacts(path))
    assert caught.value.row == 2
    assert "has 2 fields but the header has 3" in str(caught.value)


def test_long_row_is_bad(tmp_path: Path) -> None:
    path = write(tmp_path, "long.csv", b"id,a\nc1,1,extra\nc2,2\n")
    report = LoadReport()
    contacts = list(read_contacts(path, skip_bad_rows=True, report=report))
    assert [contact.id for contact in contacts] == ["c2"]
    assert report.skipped_by_reason == {"more fields than the header": 1}


def test_cut_off_inside_quotes(tmp_path: Path) -> None:
    path = write(tmp_path, "quote.csv", b'id,note\nc1,ok\nc2,"unfinished')
    with pytest.raises(DataError) as caught:
        list(read_contacts(path))
    assert caught.value.row == 3
    assert "ends inside a quoted field" in str(caught.value)


def test_bad_quoting_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path, "quotes.csv", b'id,note\nc1,"a"b\nc2,fine\n')
    report = LoadReport()
    contacts = list(read_contacts(path, skip_bad_rows=True, report=report))
    assert [contact.id for contact in contacts] == ["c2"]
    assert report.skipped_by_reason == {"invalid CSV quoting": 1}
    assert report.skipped_rows[0].row == 2


def test_duplicate_header_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.csv", b"id,email,name,email\nc1,a,b,c\n")
    with pytest.raises(DataError) as caught:
        list(read_contacts(path, skip_bad_rows=True))
    assert caught.value.row == 1
    assert caught.value.field == "email"
    assert "columns 2 and 4" in str(caught.value)


def test_header_names_are_stripped(tmp_path: Path) -> None:
    path = write(tmp_path, "spaces.csv", b"id , Lead Source \nc1,Google\n")
    contacts = list(read_contacts(path))
    assert dict(contacts[0].profile) == {"Lead Source": "Google"}


@pytest.mark.parametrize("data", [b"", b"\n", b"\xef\xbb\xbf"])
def test_empty_file_raises(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "empty.csv", data)
    with pytest.raises(DataError, match="header row is missing") as caught:
        list(read_contacts(path))
    assert caught.value.row == 1


def test_header_only_gives_no_contacts(tmp_path: Path) -> None:
    path = write(tmp_path, "header.csv", b"id,name\r\n")
    report = LoadReport()
    assert list(read_contacts(path, report=report)) == []
    assert report.rows_read == 0


def test_blank_lines_skipped_but_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.csv", b"id,age\nc1,30\n\nc2,x\n")
    with pytest.raises(DataError) as caught:
        list(read_contacts(path, types={"age": "integer"}))
    assert caught.value.row == 4


def test_unnamed_column_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # pandas' to_csv writes the index as a first column without a name.
    path = write(tmp_path, "pandas.csv", b",id,name\n0,c1,Ann\n1,c2,Bob\n")
    with caplog.at_level(logging.WARNING, logger="leadscore.loaders"):
        contacts = list(read_contacts(path))
    assert [dict(contact.profile) for contact in contacts] == [{"name": "Ann"}, {"name": "Bob"}]
    assert "1 column(s) with no name" in caplog.text
    assert "positions 1" in caplog.text


def test_missing_id_column_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "noid.csv", b"Prospect ID,name\nc1,Ann\n")
    with pytest.raises(DataError) as caught:
        list(read_contacts(path))
    assert caught.value.row == 1
    assert caught.value.field == "id"
    assert "'Prospect ID', 'name'" in (caught.value.hint or "")
    assert "id_column" in (caught.value.hint or "")


def test_missing_id_cell_is_bad_row(tmp_path: Path) -> None:
    path = write(tmp_path, "gap.csv", b"id,name\nc1,Ann\n,Bob\nSelect,Cid\nc4,Dan\n")
    report = LoadReport()
    contacts = list(read_contacts(path, skip_bad_rows=True, report=report))
    assert [contact.id for contact in contacts] == ["c1", "c4"]
    assert report.skipped_by_reason == {"missing contact id in field 'id'": 2}
    assert [skipped.row for skipped in report.skipped_rows] == [3, 4]


def test_row_numbers_as_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "noid.csv", b"age;y\n30;no\n\n41;yes\n")
    contacts = list(read_contacts(path, id_column=None, types={"y": "boolean"}))
    assert [contact.id for contact in contacts] == ["2", "4"]
    assert dict(contacts[1].profile) == {"age": 41, "y": True}


def test_bad_value_names_file_row_field(tmp_path: Path) -> None:
    path = write(tmp_path, "ages.csv", b"id,age\nc1,30\nc2,thirty\n")
    with pytest.raises(DataError) as caught:
        list(read_contacts(path, types={"age": "integer"}))
    error = caught.value
    assert error.file == str(path)
    assert error.row == 3
    assert error.field == "age"
    assert "invalid integer 'thirty'" in str(error)
    assert "types" in (error.hint or "")


def test_skip_counts_reasons_and_keeps_examples(tmp_path: Path) -> None:
    rows = b"".join(b"c%d,x%d\n" % (i, i) for i in range(30))
    path = write(tmp_path, "ages.csv", b"id,age\n" + rows + b"c99,5\n")
    report = LoadReport(max_examples=3)
    contacts = list(
        read_contacts(path, types={"age": "integer"}, skip_bad_rows=True, report=report)
    )

    assert [contact.id for contact in contacts] == ["c99"]
    assert report.rows_read == 31
    assert report.rows_skipped == 30
    assert [skipped.row for skipped in report.skipped_rows] == [2, 3, 4]
    assert report.skipped_rows[0].field == "age"
    assert report.skipped_rows[0].reason == "invalid integer in field 'age'"
    assert "'x0'" in report.skipped_rows[0].message
    assert report.summary() == "read 31 rows, skipped 30: invalid integer in field 'age' (30)"


def test_one_report_for_two_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a.csv", b"id\nc1\n")
    second = write(tmp_path, "b.csv", b"id,n\nc2,1\nc3,2,3\n")
    report = LoadReport()
    list(read_contacts(first, skip_bad_rows=True, report=report))
    list(read_contacts(second, skip_bad_rows=True, report=report))
    assert report.rows_read == 3
    assert report.rows_skipped == 1
    assert report.skipped_rows[0].file == str(second)


def test_skip_without_report_logs_counts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "ages.csv", b"id,age\nc1,secret-value\nc2,4\n")
    with caplog.at_level(logging.DEBUG, logger="leadscore.loaders"):
        contacts = list(read_contacts(path, types={"age": "integer"}, skip_bad_rows=True))
    assert [contact.id for contact in contacts] == ["c2"]
    assert "skipped 1 of 2 rows" in caplog.text
    assert "invalid integer in field 'age' (1)" in caplog.text
    assert "secret-value" not in caplog.text


def test_columns_select_and_rename(tmp_path: Path) -> None:
    path = write(
        tmp_path, "leads.csv", b"id,TotalVisits,Total Time Spent on Website,City\nc1,5,674,Select\n"
    )
    renamed = list(
        read_contacts(
            path, columns={"TotalVisits": "visits", "Total Time Spent on Website": "time_on_site"}
        )
    )
    listed = list(read_contacts(path, columns=["City", "TotalVisits"]))
    assert dict(renamed[0].profile) == {"visits": 5, "time_on_site": 674}
    assert dict(listed[0].profile) == {"TotalVisits": 5}  # City contains the placeholder


def test_selected_column_missing_from_header(tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", b"id,TotalVisits\nc1,5\n")
    with pytest.raises(DataError) as caught:
        list(read_contacts(path, columns=["Total Visits"]))
    assert caught.value.field == "Total Visits"
    assert "profile column 'Total Visits' is not in the header" in str(caught.value)


def test_typed_column_missing_from_header(tmp_path: Path) -> None:
    path = write(tmp_path, "leads.csv", b"id,TotalVisits\nc1,5\n")
    with pytest.raises(DataError, match="typed column 'Visits'"):
        list(read_contacts(path, types={"Visits": "number"}))


def test_placeholders_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", b"id,city,source\nc1,Select,N/A\n")
    default = list(read_contacts(path))
    custom = list(read_contacts(path, placeholders=["N/A"]))
    assert dict(default[0].profile) == {"source": "N/A"}
    assert dict(custom[0].profile) == {"city": "Select"}


def test_infer_types_off(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", b"id,age,vip\nc1,30,true\n")
    contacts = list(read_contacts(path, infer_types=False, types={"vip": "boolean"}))
    assert dict(contacts[0].profile) == {"age": "30", "vip": True}


def test_other_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, "cp1252.csv", "id,city\nc1,Plzeň\nc2,Zürich\n".encode("cp1250"))
    with pytest.raises(DataError) as caught:
        list(read_contacts(path))
    assert "invalid utf-8 text" in str(caught.value)
    assert "encoding=" in (caught.value.hint or "")

    contacts = list(read_contacts(path, encoding="cp1250"))
    assert [contact.profile["city"] for contact in contacts] == ["Plzeň", "Zürich"]


def test_unknown_suffix_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "contacts.txt", b"id\nc1\n")
    with pytest.raises(DataError, match=r"suffix '\.txt'"):
        list(read_contacts(path))
    assert [contact.id for contact in read_contacts(path, format="csv")] == ["c1"]


def test_unknown_format_raises() -> None:
    with pytest.raises(ValueError, match="unknown format 'xlsx'"):
        read_contacts("contacts.xlsx", format="xlsx")  # type: ignore[arg-type]


def test_stream_needs_format() -> None:
    with pytest.raises(DataError, match="cannot tell the file format"):
        list(read_contacts(io.StringIO("id\nc1\n")))
    assert [contact.id for contact in read_contacts(io.StringIO("id\nc1\n"), format="csv")] == [
        "c1"
    ]


def test_file_opened_on_iteration(tmp_path: Path) -> None:
    contacts = read_contacts(tmp_path / "missing.csv")
    with pytest.raises(FileNotFoundError):
        next(contacts)


def test_closing_iterator_closes_file(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", b"id\nc1\nc2\n")
    contacts = read_contacts(path)
    assert next(contacts).id == "c1"
    contacts.close()  # type: ignore[attr-defined]
    with pytest.raises(StopIteration):
        next(contacts)
