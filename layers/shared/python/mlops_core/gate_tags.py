"""The registry tags that carry a candidate's gate results on its model version, for the pipeline, the API's
manual promotion and people browsing the MLflow UI. One name for each, used everywhere.

`gate.state` says where the candidate stands (pending | promoted | retired | blocked); `gate.offline` and
`gate.online` hold the two gates' verdicts as `policy` names them; `gate.decision` the decision's reason.
"""

from __future__ import annotations

from typing import Final

STATE: Final = "gate.state"
OFFLINE: Final = "gate.offline"
ONLINE: Final = "gate.online"
DECISION: Final = "gate.decision"
RETIRED_BY: Final = "gate.retired_by"
RETIRED_REASON: Final = "gate.retired_reason"
# a manual promotion through the API; who and why are the registry's promoted_by and promotion_reason
FORCED: Final = "gate.forced"  # "true" when the gates were bypassed, else "false"
GATES_SEEN: Final = "gate.gates_seen"  # JSON {"offline": verdict or null, "online": verdict or null}
STAGED_AT: Final = "gate.staged_at"  # ISO time the candidate started waiting for online evidence
RUN_ID: Final = "gate.run_id"  # the run that staged it

# values of gate.state
PENDING: Final = "pending"
PROMOTED: Final = "promoted"
RETIRED: Final = "retired"
BLOCKED: Final = "blocked"
STATES: Final = (PENDING, PROMOTED, RETIRED, BLOCKED)

# MLflow allows longer values on versions (100,000) and runs (8,000); one limit keeps both copies identical.
MAX_TAG_VALUE_CHARS: Final = 5000
_TRUNCATED = "…[truncated {} chars]"


def tag_value(value: object) -> str:
    """`value` as a tag value: a string of at most MAX_TAG_VALUE_CHARS, cut with a visible marker saying how
    much was dropped rather than refused, so recording evidence never fails on its size."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= MAX_TAG_VALUE_CHARS:
        return text
    dropped = len(text) - MAX_TAG_VALUE_CHARS
    while True:  # the marker's own length depends on the count it shows
        marker = _TRUNCATED.format(dropped)
        keep = MAX_TAG_VALUE_CHARS - len(marker)
        if len(text) - keep == dropped:
            return text[:keep] + marker
        dropped = len(text) - keep
