"""What a grade report says of its marks, for fully-connected and layered specs alike."""

from __future__ import annotations


class Tally:
    """Counts, the all-right verdict and the carried-error groups of a report's ``marks`` (each with a
    ``status`` of right, wrong or carried, and ``carried_from`` the answers a carried one follows from)."""

    marks: list

    @property
    def counts(self) -> dict:
        return {s: sum(m.status == s for m in self.marks) for s in ("right", "wrong", "carried")}

    @property
    def all_right(self) -> bool:
        return all(m.status == "right" for m in self.marks)

    @property
    def carried_groups(self) -> list[tuple[tuple, list]]:
        """One group per root mistake: (the answers it comes from, the carried marks), in report order."""
        groups: dict = {}
        for m in self.marks:
            if m.status == "carried":
                groups.setdefault(tuple(m.carried_from), []).append(m)
        return list(groups.items())
