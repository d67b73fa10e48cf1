"""Small text helpers shared by the commands' human output."""

from ..core.record import Record


def record_line(r: Record) -> str:
    parts = [r.created[:19].replace("T", " "), f"{r.kind:<11}"]
    if r.suite:
        parts.append(f"{r.suite}={r.result}")
    if r.channel:
        parts.append(f"-> {r.channel}")
    if r.target:
        parts.append(f"@ {r.target}" + (f" ({r.result})" if r.result else ""))
    if r.by:
        parts.append(f"by {r.by}")
    if r.policy:
        parts.append(f"policy {r.policy[:19]}")
    if r.signers:
        parts.append(f"signed: {', '.join(r.signers)}")
    return "  ".join(parts)
