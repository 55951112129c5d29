"""Everything ``successcrew`` re-exports resolves to a real object."""

from __future__ import annotations

import successcrew


def test_every_export_resolves() -> None:
    for name in successcrew.__all__:
        assert getattr(successcrew, name) is not None, name
