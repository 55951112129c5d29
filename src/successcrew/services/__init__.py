"""One module per capability. Each public function is one use case: entry points (cli, web,
llm) and the agents call these; they compose domain/, store/, integrations/ and imports/."""
