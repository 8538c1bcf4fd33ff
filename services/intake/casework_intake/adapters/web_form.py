"""The public web form's rate counters, shared by every process and replica."""

from __future__ import annotations

from casework_common.public_http import RateCounters

WEB_FORM_RATE = RateCounters("web_form_rate")
count_submission = WEB_FORM_RATE.count
forget_windows_before = WEB_FORM_RATE.forget_windows_before
