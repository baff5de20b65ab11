"""Use cases: each function applies every rule of one thing a person does, once."""
