"""NPSTracker: survey waves, response ingestion, sentiment and categories, insights.

Every NPS tool needs work from other parts of successcrew (the NPS programs, the health engine's
NPS figures); until those are in this build the tools are listed in ``agents/nps_tracker.yaml``
and reported as not available, and nothing runs in their place.
"""

from __future__ import annotations

from successcrew.agents.base import Agent


class NPSTracker(Agent):
    """Survey waves, response ingestion, sentiment and categorisation, insights."""
