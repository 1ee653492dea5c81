"""`implan diff`, `check`, `sweep`, `report`: registered on the main app (planner.cli). Filled in by issue 5."""
