"""One module per provider: its signature, its payload, and its mapping to the common schema.

Beside them: `registry` (the providers and the poll-snapshot normalizers), `normalize` (a raw
record → the provider that reads it → events), `hootsuite_rest` (facts of Hootsuite's REST API)
and `errors` (what talking to a provider's API raises). Providers build on `pipeline.events`,
which never imports them back.
"""
