"""Credits metrics: how many credits were reserved, captured and released (no team label: teams are
unbounded; per-team figures are in the ledger)."""

from prometheus_client import Counter

CREDITS_MOVED = Counter(
    "imagegen_credits_moved",
    "Credits moved by settlement, by kind (reserved, captured, released).",
    ["kind"],
)


def moved(kind: str, hundredths: int) -> None:
    if hundredths:
        CREDITS_MOVED.labels(kind).inc(hundredths / 100)
