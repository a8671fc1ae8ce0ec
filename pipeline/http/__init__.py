"""HTTP rules that more than one stage follows: Standard Webhooks secrets and signatures, callback
URL syntax, `Retry-After`.

The admin API (config), the ingress, the pollers and delivery all import from here; it imports
nothing from the pipeline but `pipeline.errors`, so it can sit below all of them without a cycle.
"""
