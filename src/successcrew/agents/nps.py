"""NPSTracker: survey waves, response ingestion, sentiment and categories, insights.

Tools that need the NPS programs are listed in ``agents/nps_tracker.yaml`` and reported as not
available until those are in this build; nothing runs in their place.
"""

from __future__ import annotations

from successcrew.agents.base import Agent, TaskContext, ToolResult, tool


class NPSTracker(Agent):
    """Survey waves, response ingestion, sentiment and categorisation, insights."""

    @tool()
    def nps_snapshot(self, ctx: TaskContext) -> ToolResult:
        """NPS over the rolling window, overall and by segment (two grouped queries)."""
        from successcrew.store.metrics import nps_by_segment, nps_figures

        window = ctx.thresholds.nps.rolling_window_days
        overall = nps_figures(ctx.session, ctx.now.date(), window)
        return {
            "overall": overall.as_dict(),
            "by_segment": [
                f.as_dict() for f in nps_by_segment(ctx.session, ctx.now.date(), window)
            ],
        }
