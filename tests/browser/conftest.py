"""Browser-test fixtures (``tests/browsing.py``): ``dashboard``, ``signed_in``, ``screenshot``."""

from tests.browsing import browser_type_launch_args, dashboard, screenshot, signed_in

__all__ = ["browser_type_launch_args", "dashboard", "screenshot", "signed_in"]
