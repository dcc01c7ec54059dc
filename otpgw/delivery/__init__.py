"""The message pipeline: lanes, the router, the dispatcher that tries each attempt, the worker, delivery events."""
