"""leadscore: score sales leads with rules written as text.

Example::

    import datetime as dt
    import leadscore

    engine = leadscore.compile('''
        scoring "Product A" {
            threshold "MQL" at 15
            rule "Target country" { when contact.country in ["CZ", "SK", "DE"] award 10 }
            rule "Pricing page" { on page_visit where activity.url glob "*/pricing*" award 5 each max 25 }
        }
    ''')
    at = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
    contact = leadscore.Contact("c-1", {"country": "CZ"})
    visit = leadscore.Activity("c-1", "page_visit", at - dt.timedelta(days=1), {"url": "https://example.com/pricing"})
    card = engine.score(contact, [visit], at=at)["Product A"]
    assert (card.total, card.level) == (15, "MQL")
"""

import logging

from leadscore.engine import Engine, compile, load
from leadscore.errors import (
    ConfigError,
    DataError,
    DeliveryError,
    LeadscoreError,
    Problem,
    RuleCheckError,
    RuleError,
    RuleSyntaxError,
    SourceLocation,
)
from leadscore.loaders import ColumnMapping, LoadReport, read_activities, read_contacts
from leadscore.model import Activity, Contact, Duration, Threshold
from leadscore.scorecard import (
    Award,
    Diagnostic,
    GradeResult,
    GroupResult,
    RuleResult,
    ScoreCard,
    Scores,
)
from leadscore.tracking import MemoryStore, SQLiteStore, ThresholdDropped, ThresholdReached, Tracker

__version__ = "0.1.0.dev0"

# A library leaves logging configuration to the application; this only keeps Python
# from printing "no handlers" warnings when the application configures nothing.
logging.getLogger("leadscore").addHandler(logging.NullHandler())

__all__ = [
    "Activity",
    "Award",
    "ColumnMapping",
    "ConfigError",
    "Contact",
    "DataError",
    "DeliveryError",
    "Diagnostic",
    "Duration",
    "Engine",
    "GradeResult",
    "GroupResult",
    "LeadscoreError",
    "LoadReport",
    "MemoryStore",
    "Problem",
    "RuleCheckError",
    "RuleError",
    "RuleResult",
    "RuleSyntaxError",
    "SQLiteStore",
    "ScoreCard",
    "Scores",
    "SourceLocation",
    "Threshold",
    "ThresholdDropped",
    "ThresholdReached",
    "Tracker",
    "compile",
    "load",
    "read_activities",
    "read_contacts",
]
