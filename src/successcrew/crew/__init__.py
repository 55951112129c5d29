"""The crew: CustomerSuccessCrew (the setup flow and the operations cadence), the command
runtime, agent discovery and the plugin entry points. Imports nothing until a module is used."""
