"""The crew's own footing: init and setup, connections, component health, users, tasks,
pauses by hand, /healthz and /metrics figures."""
