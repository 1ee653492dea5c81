"""`implan bundle`: registered on the main app (planner.cli). Filled in by the deploy-bundle work (issue 4)."""
