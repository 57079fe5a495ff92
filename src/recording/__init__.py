"""``polyflup record``: real Polymarket quotes into daily CSV files (the layout of
:mod:`src.data.quotes`), resumable, with outcomes filled in after resolution
(docs/RECORDINGS.md)."""

from src.recording.files import DailyQuoteFiles, RecordingLockedError, ResumeReport
from src.recording.recorder import Recorder, RecorderConfig, RecordSummary
from src.recording.rows import daily_file_name, quote_row

__all__ = [
    "DailyQuoteFiles",
    "RecordSummary",
    "Recorder",
    "RecorderConfig",
    "RecordingLockedError",
    "ResumeReport",
    "daily_file_name",
    "quote_row",
]
