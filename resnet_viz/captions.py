"""A caption as a student reads it (issue 32): one takeaway sentence first, then how it was measured.

`Caption(takeaway, details)` is a `str` (the takeaway, then the details: what the command line's JSON and a report
print), with both parts kept apart for a page, which shows the takeaway under its figure and folds the details
("How this was measured"). The takeaway says what *this run* shows, computed from its numbers, with the comparison it
makes, in at most `MAX_TAKEAWAY_WORDS` words.
"""

from __future__ import annotations

MAX_TAKEAWAY_WORDS = 25


class Caption(str):
    """A caption: `takeaway` (one sentence) + `details` (the method, the figure's reading, caveats)."""

    takeaway: str
    details: str

    def __new__(cls, takeaway: str, details: str = "") -> "Caption":
        takeaway, details = " ".join(takeaway.split()), " ".join(details.split())
        self = super().__new__(cls, f"{takeaway} {details}".strip())
        self.takeaway, self.details = takeaway, details
        return self

    def __reduce__(self):  # pickles (the cluster, the kept results) as a Caption
        return (Caption, (self.takeaway, self.details))


def takeaway_of(text: str) -> str:
    """The takeaway of a caption (a plain string is all takeaway)."""
    return text.takeaway if isinstance(text, Caption) else text


def details_of(text: str) -> str:
    """The details of a caption ("" for a plain string)."""
    return text.details if isinstance(text, Caption) else ""


def words(text: str) -> int:
    """Words in `text` (whitespace-separated)."""
    return len(text.split())
