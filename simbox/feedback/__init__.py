"""The feedback loop: what happens after a flag becomes memory and labels.

- :mod:`~simbox.feedback.exclusions`: ``exclusions.csv`` (SIMs a scan must never put on
  the shutdown list: known business customers, test SIMs), applied to a scan's flags;
- :mod:`~simbox.feedback.history`: the history store (SQLite): every scan's flags, scores
  over time, exclusions hit, analysts' verdicts, test-call evidence;
- :mod:`~simbox.feedback.verdicts`: analysts' verdicts files (confirmed, dismissed, seized);
- :mod:`~simbox.feedback.testcalls`: test-call results matched to the CDRs (the SIM that
  terminated a bypassed call);
- :mod:`~simbox.feedback.numbers`: phone numbers as written by people and systems
  (national, international) to the E.164 digits of the CDRs.

See docs/feedback.md.
"""

#: a dismissed SIM is alerted again when its score rises this much above its score when it
#: was dismissed (here, not in history.py: the command line reads it without pandas)
DISMISS_MARGIN = 0.05
#: seconds between a test call's attempt time and its CDR (clock skew, set-up) by default
DEFAULT_TOLERANCE_S = 120
