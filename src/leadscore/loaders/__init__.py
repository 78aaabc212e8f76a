"""Read contacts and activities from CSV, TSV, JSON Lines files and DataFrames.

Every loader streams: it yields one `Contact` or `Activity` per row and keeps no more
than one row in memory. Bad input raises `DataError` with the file, row and field, or is
skipped and counted in a `LoadReport` with ``skip_bad_rows=True``. Example::

    from leadscore.loaders import read_activities

    for event in read_activities("events.csv.gz", contact_column="user_id", timezone="UTC"):
        ...

docs/loading-data.md describes the formats, the conversion rules and the quirks handled.
"""

import logging

from leadscore.loaders.dataframes import activities_from_dataframe, contacts_from_dataframe
from leadscore.loaders.files import read_activities, read_contacts
from leadscore.loaders.mapping import (
    ActivityColumns,
    ColumnMapping,
    ColumnSelection,
    ContactColumns,
)
from leadscore.loaders.report import LoadReport, SkippedRow
from leadscore.loaders.sources import Format, sniff_delimiter
from leadscore.loaders.values import FIELD_TYPES, FieldType

__all__ = [
    "FIELD_TYPES",
    "ActivityColumns",
    "ColumnMapping",
    "ColumnSelection",
    "ContactColumns",
    "FieldType",
    "Format",
    "LoadReport",
    "SkippedRow",
    "activities_from_dataframe",
    "contacts_from_dataframe",
    "read_activities",
    "read_contacts",
    "sniff_delimiter",
]

# A library leaves logging output to the application. Without this handler, Python
# would print the loaders' warnings to stderr when the application configured nothing.
logging.getLogger("leadscore.loaders").addHandler(logging.NullHandler())
